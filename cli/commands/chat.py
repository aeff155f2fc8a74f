"""`ftk chat`: one streamed answer, or an interactive conversation, with the deployed model."""

from __future__ import annotations

import sys

import click

from cli.app import App, pass_app
from cli.commands._wake import wait_option


@click.command(short_help="Chat with the deployed model (one answer, or interactive).")
@click.argument("message", required=False)
@click.option("--model", metavar="NAME", help="Model name to send (default: the deployed one).")
@click.option("--system", "system_prompt", metavar="TEXT", help="A system message first.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Upper bound on the answer length.")
@click.option("--temperature", type=click.FloatRange(min=0.0, max=2.0), help="0 = greedy.")
@wait_option()
@pass_app
def chat(
    app: App,
    message: str | None,
    model: str | None,
    system_prompt: str | None,
    max_tokens: int | None,
    temperature: float | None,
    wait: float,
) -> None:
    """Ask MESSAGE and stream the answer; without MESSAGE, chat until EOF (Ctrl-D) or /exit.

    Piped stdin without MESSAGE is read one user turn per line. An app that scaled to zero is
    woken first: ftk waits for its /ready (at most --wait seconds) before sending anything.
    """
    from cli.commands._wake import wake
    from cli.ops.chat import client_for, pick_model, stream_reply

    target = app.target()
    nothing_sent = "nothing was sent"
    ep = wake(target, target.endpoint(), wait, interrupted=nothing_sent)
    client = client_for(ep)
    name = pick_model(client, ep, model)
    history: list[dict[str, str]] = []
    if system_prompt:
        history.append({"role": "system", "content": system_prompt})

    def ask(text: str) -> None:
        wake(target, ep, wait, interrupted=nothing_sent)  # it may have scaled to zero meanwhile
        history.append({"role": "user", "content": text})
        reply = stream_reply(
            client,
            ep,
            name,
            history,
            lambda d: click.echo(d, nl=False),
            max_tokens=max_tokens,
            temperature=temperature,
        )
        click.echo()
        history.append({"role": "assistant", "content": reply})

    if message:
        ask(message)
        return
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo(f"chatting with {name} at {ep.url} (Ctrl-D or /exit to quit)", err=True)
    while True:
        try:
            line = click.prompt("you", prompt_suffix="> ", err=True) if interactive else input()
        except (EOFError, click.Abort):
            break
        if line.strip() in ("/exit", "/quit"):
            break
        if line.strip():
            ask(line)
