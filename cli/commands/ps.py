"""`ftk ps`: executions of the fine-tuning job with status, duration and estimated cost."""

from __future__ import annotations

import click

from cli.app import App, json_option, pass_app
from cli.tables import wide_option


@click.command(short_help="List executions with status, duration and estimated cost.")
@json_option("Print a JSON list on stdout.")
@wide_option()
@pass_app
def ps(app: App, as_json: bool) -> None:
    """List executions, newest first: run, execution, status, phase, start, duration, cost.

    A narrow terminal leaves out the cost first, then the phase, the duration and the start (a
    line says which); the run id and status are always whole. --wide shows every column, the
    execution's whole name and absolute times.

    A live execution's PHASE is where its start has got to: waiting for a replica, preparing
    environment, loading model, training (read from its own log lines).

    The estimated cost is the duration times what one replica of the stack's GPU profile is
    billed per second (on Azure: its GPU, vCPUs and memory at the active rate).
    """
    from cli import tables
    from cli.commands import _ui
    from cli.console import emit_json
    from cli.ops.executions import list_executions

    target = app.target()
    rows = list_executions(target)
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    if not rows:
        _ui.info("no executions yet; start one with `ftk run CONFIG`")
        return
    pricing = target.pricing()
    cost = f"EST. {pricing.currency}"
    table = tables.Table(
        [
            tables.Column("RUN", required=True),
            tables.Column("EXECUTION", required=True),
            tables.Column("STATUS", required=True),
            tables.Column("PHASE", priority=3, wrap="words"),
            tables.Column("STARTED", priority=1),
            tables.Column("DURATION", priority=2, justify="right"),
            tables.Column(cost, priority=4, justify="right"),
        ]
    )
    for r in rows:
        e = r.execution
        table.add_row(
            e.run_id or "-",
            tables.execution_name(e.name, e.run_id),
            _ui.status_text(e.status),
            r.phase.label if r.phase else "-",
            tables.when(e.started_at),
            _ui.fmt_duration(r.duration_s),
            tables.number(r.cost, 2),
        )
    hidden = table.render(_ui.console())
    if cost not in hidden and pricing.as_of:  # the note explains a column that is shown
        _ui.info(
            f"[dim]estimates: {pricing.formula}, prices as of "
            f"{pricing.as_of:%Y-%m-%d} ({pricing.source})[/]"
        )
