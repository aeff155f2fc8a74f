"""`ftk stop`: stop an execution (training saves a checkpoint first; `ftk resume` continues)."""

from __future__ import annotations

import click

from cli.app import App, pass_app


@click.command(short_help="Stop an execution (it checkpoints first).")
@click.argument("execution", required=False)
@pass_app
def stop(app: App, execution: str | None) -> None:
    """Stop EXECUTION (default: the one that is running)."""
    from cli.commands import _ui
    from cli.ops.executions import stop as stop_execution

    stopped = stop_execution(app.target(), execution)
    _ui.out(stopped.name)
    _ui.ok(f"stop requested for {stopped.name}; training saves a checkpoint before it exits")
    if stopped.run_id:
        _ui.info(f"  continue later with `ftk resume {stopped.run_id}`")
