"""`ftk export RUN --format merged|gguf`: take a trained model out of ftk."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.app import App, json_option, pass_app

if TYPE_CHECKING:  # loaded lazily, inside the command
    from cli.ops.evaluate import RunFiles


@click.command("export", short_help="Write a run as merged safetensors, or GGUF for llama.cpp.")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["merged", "gguf"]),
    required=True,
    help="merged: the base with the adapter folded in (safetensors + tokenizer); gguf: one GGUF "
    "file from llama.cpp's converter plus an Ollama Modelfile.",
)
@click.option(
    "--outtype",
    type=click.Choice(["f16", "bf16", "q8_0"]),
    help="Weight type: GGUF default f16; merged default the base model's own (q8_0: GGUF only).",
)
@click.option(
    "--to",
    "dest",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="New (or empty) folder to write into.",
)
@click.option("--base", metavar="MODEL", help="Base model (default: the one the adapter names).")
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Load the GGUF back and compare its weights and logits with the merged model.",
)
@json_option()
@pass_app
def export(
    app: App,
    run_id: str,
    fmt: str,
    outtype: str | None,
    dest: Path,
    base: str | None,
    verify: bool,
    as_json: bool,
) -> None:
    """Export RUN's fine-tuned model to a folder that needs neither ftk nor peft.

    RUN is read from ./runs/RUN (or, with --local, the local share); a run that is only on the
    target is downloaded there first. The merge runs on this machine in float32 on the CPU.
    """
    from cli.commands import _ui
    from cli.console import emit_json
    from cli.ops.export import check_request, export_run

    check_request(fmt, outtype, dest)  # refuse a bad request before any download
    run = find_or_download(app, run_id)
    with _ui.console().status("exporting…") as status:
        result = export_run(
            run,
            fmt,
            dest.resolve(),
            outtype=outtype,
            base=base,
            verify=verify,
            on_step=lambda message: status.update(f"{message}…"),
        )
    if as_json:
        emit_json(result.to_dict())
        return
    _ui.out(str(result.dest))
    _ui.ok(f"{run_id} exported as {fmt} ({result.outtype}) to {result.dest}")
    if result.check:
        c = result.check
        _ui.info(
            f"  checked: {c['tensors']} weights within {c['outtype']}'s bound, logits within "
            f"{c['max_logit_diff']:.3g} ({c['relative_logit_diff']:.2%} of the largest)"
        )
    if fmt == "gguf":
        _ui.info(f"  try: cd {result.dest} && ollama create {run_id} -f Modelfile")


def find_or_download(app: App, run_id: str) -> RunFiles:
    """The run in ./runs/RUN (or --local's share); a run only on the target is downloaded there."""
    from cli.commands import _ui
    from cli.errors import NotFoundError
    from cli.ops.evaluate import find_run

    share_root = app.target().share().local_root if app.local else None
    try:
        return find_run(run_id, app.project_dir, share_root)
    except NotFoundError:
        if app.local:
            raise
    from cli.ops.download import download_run
    from contract.layout import RunLayout

    folder = app.project_dir / RunLayout(run_id).folder
    with _ui.console().status(f"downloading {run_id} to {folder}…"):
        download_run(app.target().share(), run_id, folder)
    return find_run(run_id, app.project_dir)
