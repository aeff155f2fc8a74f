"""`ftk sync`: upload the workspace to the share (only what changed)."""

from __future__ import annotations

import click

from cli.app import App, json_option, pass_app


@click.command(short_help="Upload the workspace to the share (only what changed).")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--delete", is_flag=True, help="Delete files a past sync sent that are gone here.")
@json_option()
@pass_app
def sync(app: App, dry_run: bool, delete: bool, as_json: bool) -> None:
    """Upload the project to the target's file share, incrementally.

    Honors .gitignore and .ftkignore (gitignore syntax, `!` re-includes); refuses files that look
    like secrets (.env*, *.pem, *.key, ...) unless a `!` line in .ftkignore names them.
    """
    from cli.commands import _ui
    from cli.console import emit_json
    from cli.ops.sync import sync_workspace

    target = app.target()
    with _ui.BytesProgress("uploading") as progress:
        result = sync_workspace(
            target, app.project_dir, dry_run=dry_run, delete=delete, progress=progress
        )
    if as_json:
        emit_json(result.to_dict())
        return
    render_sync(result)


def render_sync(result) -> None:
    from cli.commands import _ui

    for path in result.refused:
        _ui.warn(f"refused {path}: looks like a secret (add `!{path}` to .ftkignore to send it)")
    verb = "would upload" if result.dry_run else "uploaded"
    if result.dry_run:
        for path in result.uploaded:
            _ui.info(f"  + {path}")
        for path in result.deleted:
            _ui.info(f"  - {path}")
    mb = result.bytes / 1e6
    deleted = f", {'would delete' if result.dry_run else 'deleted'} {len(result.deleted)}"
    _ui.ok(
        f"{verb} {len(result.uploaded)} files ({mb:.1f} MB){deleted if result.deleted else ''}, "
        f"{result.skipped} unchanged"
    )
