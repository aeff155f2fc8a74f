"""`ftk download RUN`: the run's adapter, metrics, loss plot and summary to ./runs/RUN."""

from __future__ import annotations

from pathlib import Path

import click

from cli.app import App, json_option, pass_app
from contract.layout import RunLayout


@click.command(short_help="Download a run's adapter, metrics, loss plot and summary.")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--to",
    "dest",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder (default ./runs/RUN).",
)
@json_option()
@pass_app
def download(app: App, run_id: str, dest: Path | None, as_json: bool) -> None:
    """Download RUN's adapter and results; files already here and identical are skipped."""
    from cli.commands import _ui
    from cli.console import emit_json
    from cli.ops.download import download_run, wanted_files

    share = app.target().share()
    folder = dest or app.project_dir / RunLayout(run_id).folder
    files = wanted_files(share, run_id)
    with _ui.BytesProgress("downloading") as progress:
        progress.start(len(files), sum(f.size for f in files))
        result = download_run(share, run_id, folder, on_file=progress.advance)
    if as_json:
        emit_json(result.to_dict())
        return
    _ui.out(str(folder))
    _ui.ok(
        f"{len(result.downloaded)} files ({result.bytes / 1e6:.1f} MB) to {folder}, "
        f"{len(result.skipped)} already up to date"
    )
