"""`ftk chat`: one streamed answer, or an interactive conversation, with the deployed model."""

from __future__ import annotations

import sys

import click

from cli.app import App, pass_app


@click.command(short_help="Chat with the deployed model (one answer, or interactive).")
@click.argument("message", required=False)
@click.option("--model", metavar="NAME", help="Model name to send (default: the deployed one).")
@click.option("--system", "system_prompt", metavar="TEXT", help="A system message first.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Upper bound on the answer length.")
@click.option("--temperature", type=click.FloatRange(min=0.0, max=2.0), help="0 = greedy.")
@pass_app
def chat(
    app: App,
    message: str | None,
    model: str | None,
    system_prompt: str | None,
    max_tokens: int | None,
    temperature: float | None,
) -> None:
    """Ask MESSAGE and stream the answer; without MESSAGE, chat until EOF (Ctrl-D) or /exit.

    Piped stdin without MESSAGE is read one user turn per line.
    """
    from cli.ops.chat import client_for, pick_model, stream_reply

    ep = app.target().endpoint()
    client = client_for(ep)
    name = pick_model(client, ep, model)
    history: list[dict[str, str]] = []
    if system_prompt:
        history.append({"role": "system", "content": system_prompt})

    def ask(text: str) -> None:
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
