"""`ftk endpoint`: the inference endpoint's URL and readiness."""

from __future__ import annotations

import click

from cli.app import App, json_option, pass_app
from cli.commands._wake import wait_option


@click.command(short_help="Show the endpoint URL, readiness and model.")
@json_option()
@click.option("--show-key", is_flag=True, help="Also print the API key.")
@click.option("--stop", is_flag=True, help="--local only: stop the local inference server.")
@wait_option()
@pass_app
def endpoint(app: App, as_json: bool, show_key: bool, stop: bool, wait: float) -> None:
    """Show the endpoint URL (OpenAI API at URL/v1), whether it is ready, and its model.

    An app that scaled to zero is woken first and ftk waits for its /ready (at most --wait
    seconds); `--wait 0` shows it as it is without waking it.
    """
    from cli.commands import _ui
    from cli.commands._wake import wake
    from cli.console import emit_json
    from cli.errors import NotFoundError, UsageError
    from cli.ops.deploy import endpoint_dict

    target = app.target()
    if stop:
        if not target.capabilities.stop_endpoint:
            raise UsageError("--stop is for the local server; an Azure app scales to zero")
        if not target.stop_endpoint():
            raise NotFoundError("no local inference server is running")
        _ui.ok("the local inference server stopped; `ftk --local deploy` starts it again")
        return
    shown = wake(target, target.endpoint(), wait, interrupted="it keeps starting")
    data = endpoint_dict(shown, show_key=show_key)
    if as_json:
        emit_json(data)
        return
    _ui.out(data["url"])
    state = "[green]ready[/]" if data["ready"] else "[yellow]not ready[/]"
    model = data["model"] or "-"
    _ui.info(f"  {state}  model: {model}  OpenAI base URL: {data['openai_base_url']}")
    if len(data["models"]) > 1:
        _ui.info(f"  runs served (ftk chat --model RUN): {', '.join(data['models'])}")
    if show_key:
        _ui.out(data["api_key"] or "")
