"""`ftk publish RUN --repo OWNER/NAME`: a run's adapter (or merged model) and a model card on the
Hugging Face Hub."""

from __future__ import annotations

import click

from cli.app import App, json_option, pass_app


@click.command(short_help="Push a run's adapter (or merged model) and a model card to the Hub.")
@click.argument("run_id", metavar="RUN")
@click.option("--repo", "repo_id", required=True, metavar="OWNER/NAME", help="Hub repository.")
@click.option(
    "--private",
    is_flag=True,
    help="Create the repository private (an existing one keeps its visibility).",
)
@click.option(
    "--merged", is_flag=True, help="Push the base with the adapter merged in, not the adapter."
)
@click.option(
    "--base", metavar="MODEL", help="Base model to merge into (--merged; default: the adapter's)."
)
@json_option()
@pass_app
def publish(
    app: App,
    run_id: str,
    repo_id: str,
    private: bool,
    merged: bool,
    base: str | None,
    as_json: bool,
) -> None:
    """Create or update the Hub repository OWNER/NAME with RUN's adapter, its loss plot and a model
    card generated from the run (base model, data, training config, `ftk eval` scores, versions).

    The token is HF_TOKEN, else the one `hf auth login` stored; it is never a flag, never printed.
    RUN is read from ./runs/RUN (or --local's share); a run only on the target is downloaded first.
    """
    from cli.commands import _ui
    from cli.commands.export import find_or_download
    from cli.console import emit_json
    from cli.ops.publish import check_repo_id, hub_token, publish_run

    check_repo_id(repo_id)
    hub_token()  # no token: say so before any download or merge
    run = find_or_download(app, run_id)
    with _ui.console().status(f"publishing {run_id} to {repo_id}…"):
        result = publish_run(
            run, repo_id, private=private, merged=merged, base=base, project_dir=app.project_dir
        )
    if as_json:
        emit_json(result.to_dict())
        return
    _ui.out(result.url)
    _ui.ok(f"{run_id} published to {result.url} ({len(result.files)} files)")
