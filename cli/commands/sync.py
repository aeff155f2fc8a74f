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

    Honors .gitignore and .ftkignore (gitignore syntax, `!` re-includes). Refuses files that look
    like secrets (.env, prod.env, id_rsa, *.pem, .aws/credentials, service-account JSON, ...)
    whatever the ignore rules say; a line in .ftkallow naming one such file sends it, with a
    notice on every sync. Never sends or deletes anything under the share's runs/, model-cache/
    or .ftk/. Stops before uploading if a name cannot live on Azure Files (" \\ : | < > * ?,
    control characters, CON/NUL/..., or two names that differ only in case).
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
        render_secret_notices(result)  # stderr: --json never hides that a secret was sent
        emit_json(result.to_dict())
        return
    render_sync(result)


def render_secret_notices(result) -> None:
    """The refused and the allowed secret-looking files; printed on every sync.

    File names are the workspace's, so any control sequence in them is shown escaped."""
    from cli.commands import _ui
    from cli.safe_text import safe_text

    for path in result.refused:
        why = result.reasons.get(path, "secret")
        name = safe_text(path)
        _ui.warn(
            f"refused {name}: looks like a secret ({why}); to send it anyway, add the line "
            f"'{name}' to .ftkallow"
        )
    sent = "would send" if result.dry_run else "sending"
    for path in result.allowed:
        why = result.reasons.get(path, "secret")
        name = safe_text(path)
        _ui.warn(f"{sent} {name} although it looks like a secret ({why}): allowed by .ftkallow")


def render_sync(result) -> None:
    from cli.commands import _ui
    from cli.safe_text import safe_markup

    render_secret_notices(result)
    verb = "would upload" if result.dry_run else "uploaded"
    if result.dry_run:
        for path in result.uploaded:
            _ui.info(f"  + {safe_markup(path)}")
        for path in result.deleted:
            _ui.info(f"  - {safe_markup(path)}")
    mb = result.bytes / 1e6
    deleted = f", {'would delete' if result.dry_run else 'deleted'} {len(result.deleted)}"
    _ui.ok(
        f"{verb} {len(result.uploaded)} files ({mb:.1f} MB){deleted if result.deleted else ''}, "
        f"{result.skipped} unchanged"
    )
    if result.swept:
        _ui.info(f"  removed {len(result.swept)} stale temporary files an interrupted sync left")
