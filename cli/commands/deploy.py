"""`ftk deploy`: point the inference app at a run's adapter and wait until it is ready."""

from __future__ import annotations

import click

from cli.app import App, json_option, pass_app
from cli.commands._wake import wait_option

# Said before a deploy on a target whose new revision starts while the old one serves (Azure:
# cli/targets/aca/deploy.py has the source).
OVERLAP_NOTE = (
    "the running revision keeps serving until the new one is ready (and scaled to as many "
    "replicas), so a warm app briefly needs one more GPU per running replica; with none free "
    "the new revision waits for one (`ftk doctor` counts them)"
)


@click.command(short_help="Serve runs' adapters on the inference endpoint.")
@click.argument("run_ids", metavar="[RUN]...", nargs=-1)
@click.option(
    "--add",
    "add",
    multiple=True,
    metavar="RUN",
    help="Serve RUN too, beside the runs deployed now (repeatable).",
)
@click.option("--base-only", is_flag=True, help="Serve the base model alone, without an adapter.")
@click.option("--base", metavar="MODEL", help="Base model (default: the one RUN was trained on).")
@click.option("--no-sync", is_flag=True, help="Do not sync the workspace (inference code) first.")
@json_option("Print the endpoint as JSON on stdout.")
@wait_option()
@pass_app
def deploy(
    app: App,
    run_ids: tuple[str, ...],
    add: tuple[str, ...],
    base_only: bool,
    base: str | None,
    no_sync: bool,
    as_json: bool,
    wait: float,
) -> None:
    """Serve RUN's adapter (default: the newest succeeded run) and print the endpoint.

    Several runs of one base model are served together on one replica, each under its run id as
    the model name (`ftk chat --model RUN`); `--add RUN` serves RUN beside what is deployed now.
    The transformers engine runs one adapter per batch (requests for another wait for the batch
    to drain); vLLM serves them as several LoRA modules.

    Syncs the workspace first (the app runs the inference code from the share), points the app
    at the run's adapter and base model, and waits until the new revision is ready. An app that
    scales to zero is then woken, and ftk waits (at most --wait seconds) until it answers /ready
    with the model loaded; `--wait 0` skips that.
    """
    from cli.commands import _ui
    from cli.commands._wake import wake
    from cli.commands.sync import render_sync
    from cli.console import emit_json
    from cli.ops.deploy import deploy as deploy_run
    from cli.ops.deploy import endpoint_dict
    from cli.ops.sync import sync_workspace

    target = app.target()
    if not no_sync:
        with _ui.BytesProgress("uploading") as progress:
            synced = sync_workspace(target, app.project_dir, progress=progress)
        if not as_json:
            render_sync(synced)
    run_id = run_ids[0] if run_ids else None
    what = "the base model" if base_only else (", ".join(run_ids + add) or "the newest run")
    if target.capabilities.deploy_overlaps:
        _ui.info(f"[dim]note: {OVERLAP_NOTE}[/]")
    with _ui.console().status(f"deploying {what}; waiting until the endpoint is ready…"):
        endpoint = deploy_run(
            target, run_id, base_only=base_only, base=base, more_runs=run_ids[1:], add=add
        )
    endpoint = wake(target, endpoint, wait, interrupted="the app is deployed and keeps starting")
    if as_json:
        emit_json(endpoint_dict(endpoint, show_key=False))
        return
    _ui.out(endpoint.url)
    served = ", ".join(endpoint.adapters) if len(endpoint.adapters) > 1 else endpoint.model
    _ui.ok(f"serving {served or what} at {endpoint.url}")
    _ui.info('  try: ftk chat "Hello"   (the API key: ftk endpoint --show-key)')
