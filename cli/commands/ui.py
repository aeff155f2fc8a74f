"""`ftk ui`: the Gradio chat page on this machine, against the endpoint (either engine)."""

from __future__ import annotations

import click

from cli.app import App, pass_app


@click.command(short_help="Open the chat page locally against the deployed endpoint.")
@click.option("--port", type=click.IntRange(0, 65535), default=7860, show_default=True)
@click.option("--no-browser", is_flag=True, help="Do not open a browser tab.")
@pass_app
def ui(app: App, port: int, no_browser: bool) -> None:
    """Serve ftk's chat page on 127.0.0.1 against the endpoint's OpenAI API.

    vLLM's server has no chat page; this one works against either engine. The endpoint's key is
    held in this process (never printed, never an argument); the page listens on loopback only.
    """
    from cli.commands import _ui
    from inference.remote import RemoteEngine
    from inference.settings import ServerSettings
    from inference.ui import build_ui

    ep = app.target().endpoint()
    page = build_ui(RemoteEngine(ep.url, ep.api_key), ServerSettings(api_key_env="FTK_UI_NO_KEY"))
    _ui.info(f"chat page for {ep.url} at http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    page.launch(
        server_name="127.0.0.1", server_port=port, inbrowser=not no_browser, share=False, quiet=True
    )
