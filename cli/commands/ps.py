"""`ftk ps`: executions of the fine-tuning job with status, duration and estimated cost."""

from __future__ import annotations

import click

from cli.app import App, json_option, pass_app


@click.command(short_help="List executions with status, duration and estimated cost.")
@json_option("Print a JSON list on stdout.")
@pass_app
def ps(app: App, as_json: bool) -> None:
    """List executions, newest first.

    A live execution's PHASE is where its start has got to: waiting for a replica, preparing
    environment, loading model, training (read from its own log lines).

    The estimated cost is the duration times what one replica of the stack's GPU profile is
    billed per second: its GPU, vCPUs and memory at the active rate (see `cli/pricing.py`).
    """
    from cli import pricing
    from cli.commands import _ui
    from cli.console import emit_json
    from cli.ops.executions import list_executions

    rows = list_executions(app.target())
    if as_json:
        emit_json([r.to_dict() for r in rows])
        return
    if not rows:
        _ui.info("no executions yet; start one with `ftk run CONFIG`")
        return
    table = _ui.new_table("EXECUTION", "RUN", "STATUS", "PHASE", "STARTED", "DURATION", "EST. COST")
    for r in rows:
        e = r.execution
        table.add_row(
            e.name,
            e.run_id or "-",
            _ui.status_text(e.status),
            r.phase.label if r.phase else "-",
            _ui.fmt_time(e.started_at),
            _ui.fmt_duration(r.duration_s),
            _ui.fmt_cost(r.cost, pricing.CURRENCY),
        )
    _ui.print_table(table)
    _ui.info(
        f"[dim]estimates: GPU + vCPU + memory seconds of one replica, prices as of "
        f"{pricing.PRICES_AS_OF:%Y-%m-%d} ({pricing.SOURCE})[/]"
    )
