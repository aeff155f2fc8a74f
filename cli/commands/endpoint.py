"""`ftk endpoint`: the inference endpoint's URL and readiness."""

from __future__ import annotations

import click

from cli.app import App, pass_app


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--show-key", is_flag=True, help="Also print the API key.")
@pass_app
def endpoint(app: App, as_json: bool, show_key: bool) -> None:
    """Show the endpoint URL (OpenAI API at URL/v1), whether it is ready, and its model."""
    from cli.commands import _ui
    from cli.console import emit_json
    from cli.ops.deploy import endpoint_dict

    data = endpoint_dict(app.target().endpoint(), show_key=show_key)
    if as_json:
        emit_json(data)
        return
    _ui.out(data["url"])
    state = "[green]ready[/]" if data["ready"] else "[yellow]not ready[/]"
    model = data["model"] or "-"
    _ui.info(f"  {state}  model: {model}  OpenAI base URL: {data['openai_base_url']}")
    if show_key:
        _ui.out(data["api_key"] or "")
