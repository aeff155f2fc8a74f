"""`ftk quickstart`: fine-tune, evaluate, serve and chat with a real small model here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.app import App, json_option, pass_app


class _ConsoleReporter:
    """Renders the quickstart's steps on stderr; the training log streams as it comes."""

    def __init__(self, total_steps: int):
        from cli.commands import _ui
        from cli.commands.eval import EvalProgress

        self._ui = _ui
        self.total = total_steps
        self._progress: EvalProgress | None = None
        self._EvalProgress = EvalProgress
        self._in_chat = False

    def step(self, number: int, title: str) -> None:
        self.close_progress()
        self._ui.info(f"\n[bold cyan]{number}/{self.total}[/] [bold]{title}[/]")

    def note(self, text: str) -> None:
        from rich.markup import escape

        self._ui.info(f"  {escape(text)}")

    def log_line(self, line: str) -> None:
        click.echo(f"  │ {line}", err=True)

    def eval_progress(self, label: str, done: int, total: int) -> None:
        if self._progress is None:
            self._progress = self._EvalProgress().__enter__()
        self._progress.update(label, done, total)

    def scores(self, report: Any) -> None:
        from cli.commands.eval import render_report

        self.close_progress()
        render_report(report, summary_to_stdout=False)

    def chat_delta(self, text: str) -> None:
        if not self._in_chat:
            click.echo("  assistant: ", nl=False, err=True)
            self._in_chat = True
        click.echo(text, nl=False, err=True)

    def close_progress(self) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
            self._progress = None
        if self._in_chat:
            click.echo("", err=True)
            self._in_chat = False


@click.command(short_help="Fine-tune, evaluate and serve a small model here, no Azure needed.")
@click.option(
    "--dir",
    "workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".ftk/quickstart"),
    show_default=True,
    help="Workspace for the sample project, its local share and runs.",
)
@click.option("--run-id", metavar="ID", help="Name of the run (default: quickstart-<UTC time>).")
@click.option(
    "--example",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Another sample project laid out like examples/quickstart "
    "(quickstart.yaml, train.jsonl, eval.jsonl).",
)
@json_option("Print one JSON object on stdout at the end.")
@pass_app
def quickstart(
    app: App, workspace: Path, run_id: str | None, example: Path | None, as_json: bool
) -> None:
    """Run the whole loop on this machine with SmolLM2-135M-Instruct on CPU, in a few minutes.

    Converts the base model once, validates the sample dataset (support messages to label as
    billing, shipping, technical or account), fine-tunes it as a --local job, scores the base
    model and the adapter on held-out messages, serves the adapter on a local OpenAI-compatible
    endpoint, asks it one question, and says how to do the same on Azure. The local server keeps
    running afterwards; `ftk --local --project-dir DIR endpoint --stop` ends it.
    """
    from cli.commands import _ui
    from cli.commands.sync import render_sync
    from cli.console import emit_json
    from cli.ops.quickstart import STEPS, next_steps, run_quickstart
    from cli.targets.local import LocalTarget

    folder = workspace if workspace.is_absolute() else app.project_dir / workspace
    folder = folder.resolve()
    target = LocalTarget(folder)
    reporter = _ConsoleReporter(STEPS)
    try:
        result = run_quickstart(
            target,
            folder,
            reporter,
            run_id=run_id,
            example=example.resolve() if example else None,
            on_sync=None if as_json else render_sync,
        )
    finally:
        reporter.close_progress()
    reporter.step(STEPS, "Next")
    for line in next_steps(_display(folder)):
        _ui.info(f"  {line}")
    if as_json:
        emit_json(result.to_dict())


def _display(path: Path) -> Any:
    """The workspace as the user would type it: relative to the current folder when inside it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
