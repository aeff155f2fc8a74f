"""`ftk outputs`: the resolved target's keys (never a secret)."""

from __future__ import annotations

import click

from cli.app import App, json_option, pass_app
from cli.tables import wide_option


@click.command(short_help="Show the resolved target (no secrets).")
@json_option()
@wide_option()
@pass_app
def outputs(app: App, as_json: bool) -> None:
    """Show where ftk acts: target kind and the output-contract keys it resolved."""
    from rich.markup import escape

    from cli import tables
    from cli.commands import _ui
    from cli.console import emit_json
    from contract import outputs as contract_keys

    target = app.target()
    keys = {k: v for k, v in target.describe().items() if k not in contract_keys.SECRET_KEYS}
    if as_json:
        emit_json({"target": target.kind, **keys})
        return
    table = tables.Table(
        [tables.Column("KEY", required=True), tables.Column("VALUE", required=True, wrap="fold")]
    )
    table.add_row("target", target.kind)
    for k, v in keys.items():
        table.add_row(k, escape(str(v)))
    table.render(_ui.console())
