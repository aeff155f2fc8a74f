"""`ftk cache`: list and prune the dependency sets built on the share (one per lock file)."""

from __future__ import annotations

import sys

import click

from cli.app import App, json_option, pass_app
from cli.tables import wide_option


@click.group(short_help="List or prune the dependency sets built on the share.")
def cache() -> None:
    """The job and the app install each lock file once into `.ftk/envs/` on the share and reuse
    it (docs/architecture.md, "Warm starts"). A changed lock builds a new set; `prune` removes the
    old ones."""


@cache.command("ls")
@json_option("Print a JSON list on stdout.")
@wide_option()
@pass_app
def ls(app: App, as_json: bool) -> None:
    """List the sets with their size and whether they match the project's current locks."""
    from cli.console import emit_json
    from cli.ops.cache import current_locks, is_current, list_envs

    share = app.target().share()
    locks = current_locks(app.project_dir)
    rows = [(env, not env.building and is_current(share, env, locks)) for env in list_envs(share)]
    if as_json:
        emit_json([_row(env) | {"current": current} for env, current in rows])
        return
    _table([env for env, _ in rows], [current for _, current in rows])


@cache.command("prune")
@click.option("--builds", is_flag=True, help="Also remove build folders (only when none starts).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option("Print what was removed as a JSON list on stdout.")
@wide_option()
@pass_app
def prune(app: App, builds: bool, yes: bool, as_json: bool) -> None:
    """Remove the sets built from locks the project no longer has, listing their sizes first.

    Sets for the current `requirements-train.lock` / `requirements-serve.lock` are kept. Build
    folders are left alone unless --builds: one may belong to a start in progress."""
    from cli.commands import _ui
    from cli.console import emit_json
    from cli.errors import UsageError
    from cli.ops.cache import remove, stale

    share = app.target().share()
    doomed = stale(share, app.project_dir, include_builds=builds)
    if not doomed:
        if as_json:
            emit_json([])
        _ui.info("nothing to prune: every set matches a current lock")
        return
    _table(doomed, None)
    if not yes:
        if as_json or not sys.stdin.isatty():
            raise UsageError("pruning needs confirmation", hint="pass --yes")
        total = sum(env.size for env in doomed)
        click.confirm(f"remove {len(doomed)} set(s), {_size(total)}?", abort=True, err=True)
    for env in doomed:
        remove(share, env)
    if as_json:
        emit_json([_row(env) for env in doomed])
    _ui.ok(f"removed {len(doomed)} set(s), {_size(sum(env.size for env in doomed))}")


def _row(env) -> dict:
    return {"name": env.name, "bytes": env.size, "complete": env.complete, "build": env.building}


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _table(envs, current: list[bool] | None) -> None:
    from rich.markup import escape

    from cli import tables
    from cli.commands import _ui

    columns = [
        tables.Column("SET", required=True),
        tables.Column("SIZE", priority=2, justify="right"),
        tables.Column("STATE", required=True, wrap="words"),
    ]
    if current is not None:
        columns.append(tables.Column("CURRENT", priority=1))
    table = tables.Table(columns)
    for i, env in enumerate(envs):
        state = "building or killed" if env.building else "complete" if env.complete else "partial"
        row = [escape(env.name), _size(env.size), state]
        if current is not None:
            row.append("yes" if current[i] else "no")
        table.add_row(*row)
    table.render(_ui.console())
