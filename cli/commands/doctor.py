"""`ftk doctor`: before `pulumi up` or a run, check that it can work, with a fix per problem."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.app import App, json_option, pass_app
from cli.tables import wide_option

if TYPE_CHECKING:  # loaded lazily, inside the command
    from rich.console import Console

    from cli.doctor.report import Report


@click.command(
    short_help="Check credentials, region, quota, permissions, names (and a run config)."
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also check this training config: fits the GPU, gated model token, cost.",
)
@json_option()
@wide_option()
@pass_app
def doctor(app: App, config_file: Path | None, as_json: bool) -> None:
    """Check the target (--stack, --infra or --local) and say what to fix.

    One row per check: ✓ fine, ! works or could not be checked (read why), ✗ will not work until
    fixed. On a stack before its first `pulumi up` the checks read the stack's config. Exit code 1
    when any check is ✗. Figures are estimates: see docs/doctor.md.
    """
    from cli.commands import _ui
    from cli.console import emit_json
    from cli.doctor.diagnose import diagnose
    from cli.errors import ExitCode
    from cli.ops.runs import find_config

    config = find_config(app.project_dir, config_file) if config_file else None
    report = diagnose(app.target(), app.project_dir, config)
    if as_json:
        emit_json(report.to_dict())
    else:
        render(report, _ui.console())
    if report.failed:
        raise click.exceptions.Exit(int(ExitCode.FAILED))


def render(report: Report, console: Console) -> None:
    """The rows as a borderless table: status, check, evidence (and the fix under it)."""
    from rich.markup import escape

    from cli import tables
    from cli.doctor.report import Status

    colour = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "red"}
    console.print(f"[bold]ftk doctor[/]: {escape(report.target)}", highlight=False)
    table = tables.Table(
        [
            tables.Column("STATUS", required=True),
            tables.Column("CHECK", required=True),
            tables.Column("EVIDENCE", required=True, wrap="fold"),
        ],
        show_header=False,
    )
    for row in report.rows:
        detail = escape(row.evidence)
        if row.fix:
            detail += f"\n[dim]fix:[/] {escape(row.fix)}"
        table.add_row(f"[{colour[row.status]}]{row.status}[/]", escape(row.name), detail)
    table.render(console)
