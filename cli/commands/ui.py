"""`ftk ui`: the Gradio chat page on this machine, against the endpoint (either engine)."""

from __future__ import annotations

import click

from cli.app import App, pass_app
from cli.commands._wake import wait_option


@click.command(short_help="Open the chat page locally against the deployed endpoint.")
@click.option("--port", type=click.IntRange(0, 65535), default=7860, show_default=True)
@click.option("--no-browser", is_flag=True, help="Do not open a browser tab.")
@wait_option()
@pass_app
def ui(app: App, port: int, no_browser: bool, wait: float) -> None:
    """Serve ftk's chat page on 127.0.0.1 against the endpoint's OpenAI API.

    vLLM's server has no chat page; this one works against either engine. The endpoint's key is
    held in this process (never printed, never an argument). The page listens on loopback only
    and asks for a session key, made up for this run and printed here once, so nobody else on
    this machine (another user, or a web page your browser opens) can use the endpoint through
    it. Ctrl-C stops it; the session key dies with it.
    """
    from cli.commands import _ui
    from cli.commands._wake import wake
    from cli.ops.page import serve_page

    target = app.target()
    ep = wake(target, target.endpoint(), wait, interrupted="nothing was started")
    serve_page(ep, port, open_browser=not no_browser, say=_ui.info)
