"""`ftk logs`: console output of an execution, live or from history."""

from __future__ import annotations

import click

from cli.app import App, pass_app


@click.command(short_help="Show or follow an execution's logs.")
@click.argument("execution", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep streaming until the execution ends.")
@click.option(
    "--tail", type=click.IntRange(0, 300), metavar="N", help="Only the last N lines (0-300)."
)
@click.option("--system", is_flag=True, help="Platform events (scheduling, start, exit) instead.")
@click.option("--since", metavar="DURATION", help="History from the log store, e.g. 30m, 1h, 2d.")
@pass_app
def logs(
    app: App, execution: str | None, follow: bool, tail: int | None, system: bool, since: str | None
) -> None:
    """Show the logs of EXECUTION (default: the running one, else the newest).

    With -f, Ctrl-C stops following (the job keeps running) and the exit code is the execution's
    outcome once it ends: 0 succeeded, 1 otherwise.
    """
    from cli.commands import _ui
    from cli.errors import UsageError
    from cli.ops.executions import parse_since, resolve_execution

    if follow and (system or since):
        raise UsageError("--follow cannot be combined with --system or --since")
    delta = parse_since(since) if since else None
    target = app.target()
    chosen = resolve_execution(target, execution)
    if chosen.portal_url:
        _ui.info(f"[dim]portal: {chosen.portal_url}[/]")
    if system or since:
        if not target.capabilities.log_history:
            raise UsageError("this target keeps no log history (--since/--system)")
        for line in target.query_logs(chosen.name, since=delta, system=system, tail=tail):
            _ui.log_line(line)
        return
    if not follow:
        for line in target.stream_logs(chosen.name, follow=False, tail=tail):
            _ui.log_line(line)
        return
    final = _ui.follow_execution(target, chosen, tail=tail)
    _ui.finish(final)
