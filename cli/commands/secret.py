"""`ftk secret set|list|rm`: job secrets (env vars backed by ACA secrets; never echoed)."""

from __future__ import annotations

import sys

import click

from cli.app import App, json_option, pass_app


@click.group(short_help="Set, list or remove job secrets (never echoed).")
def secret() -> None:
    """Manage the job's secrets, such as HF_TOKEN; values are never printed."""


_apply_opt = click.option(
    "--apply", is_flag=True, help="Pulumi stack: also run the `pulumi up` that applies it."
)


@secret.command("set")
@click.argument("name")
@_apply_opt
@pass_app
def set_(app: App, name: str, apply: bool) -> None:
    """Set secret NAME; the value comes from a hidden prompt, or from stdin when piped.

    Example: `ftk secret set HF_TOKEN` or `printenv HF_TOKEN | ftk secret set HF_TOKEN`.
    """
    from cli.commands import _ui
    from cli.ops.secrets import set_secret

    _ui.ok(set_secret(app.target(), name, lambda: _read_value(name), apply=apply))


def _read_value(name: str) -> str:
    from cli.errors import UsageError

    if sys.stdin.isatty():
        return click.prompt(f"value for {name}", hide_input=True, err=True, show_default=False)
    value = sys.stdin.read()
    if not value.strip():
        raise UsageError(
            f"no value for {name} on stdin",
            hint=f"pipe it (`printenv {name} | ftk secret set {name}`) or run in a terminal",
        )
    return value


@secret.command("list")
@json_option("Print a JSON list of names on stdout.")
@pass_app
def list_(app: App, as_json: bool) -> None:
    """List secret names (never values)."""
    from cli.commands import _ui
    from cli.console import emit_json

    names = app.target().secrets.names()
    if as_json:
        emit_json(names)
    elif names:
        for n in names:
            _ui.out(n)
    else:
        _ui.info("no secrets; add one with `ftk secret set NAME`")


@secret.command("rm")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_apply_opt
@pass_app
def rm(app: App, name: str, yes: bool, apply: bool) -> None:
    """Remove secret NAME."""
    from cli.commands import _ui
    from cli.errors import UsageError
    from cli.ops.secrets import check_name, remove_secret

    check_name(name)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("removing a secret needs confirmation", hint="pass --yes")
        click.confirm(f"remove secret {name}?", abort=True, err=True)
    _ui.ok(remove_secret(app.target(), name, apply=apply))
