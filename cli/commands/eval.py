"""`ftk eval RUN --data FILE`: the base model and a run's adapter side by side on held-out data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.app import App, json_option, pass_app
from cli.tables import wide_option

if TYPE_CHECKING:  # loaded lazily, inside the command
    from rich.table import Table

    from training.evaluate import EvalReport, ModelScore


@click.command("eval", short_help="Score a run's adapter against its base model on a data file.")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--data",
    "data_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Held-out examples in a training data format, or preference pairs (JSONL).",
)
@click.option("--base", metavar="MODEL", help="Base model (default: the one the adapter names).")
@click.option("--max-examples", type=click.IntRange(min=1), metavar="N", help="Score the first N.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    metavar="N",
    help="Examples per forward pass.",
)
@click.option(
    "--max-new-tokens",
    type=click.IntRange(1, 1024),
    metavar="N",
    help="Tokens generated per answer (default: the longest reference + 8).",
)
@json_option()
@wide_option()
@pass_app
def eval_(
    app: App,
    run_id: str,
    data_file: Path,
    base: str | None,
    max_examples: int | None,
    batch_size: int,
    max_new_tokens: int | None,
    as_json: bool,
) -> None:
    """Score RUN's adapter and its base model on FILE: exact match and mean loss.

    For preference pairs (prompt, chosen, rejected): the preference accuracy (the share of pairs
    whose chosen answer has the higher log-probability) and the mean margin (nats) instead.

    RUN is read from ./runs/RUN (`ftk download RUN` puts it there, from Azure or --local), or with
    --local straight from the local share. Answers are generated greedily; exact match ignores
    case, surrounding whitespace and a final period. This runs the models on this machine.
    """
    from cli.console import emit_json
    from cli.ops.evaluate import data_path, evaluate_run, find_run

    share_root = app.target().share().local_root if app.local else None
    run = find_run(run_id, app.project_dir, share_root)
    data = data_path(data_file, app.project_dir)
    with EvalProgress(enabled=not as_json) as progress:
        report = evaluate_run(
            run,
            data,
            base=base,
            max_examples=max_examples,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            on_progress=progress.update,
        )
    # Kept beside the run for `ftk publish`'s model card (the latest scoring wins).
    (run.root / "eval.json").write_text(
        json.dumps({"run_id": run_id, **report.to_dict()}, indent=1) + "\n", encoding="utf-8"
    )
    if as_json:
        emit_json({"run_id": run_id, **report.to_dict()})
        return
    render_report(report)


class EvalProgress:
    """'scoring base 16/40' on stderr while the models answer (hidden without a terminal)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> EvalProgress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from cli.commands import _ui

        console = _ui.console()
        self._progress = Progress(
            TextColumn("scoring {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
            disable=not (self.enabled and console.is_terminal),
        )
        self._progress.start()
        return self

    def update(self, label: str, done: int, total: int) -> None:
        if label not in self._tasks:
            self._tasks[label] = self._progress.add_task(label, total=total)
        self._progress.update(self._tasks[label], completed=done)

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def render_report(report: EvalReport, *, samples: int = 3, summary_to_stdout: bool = True) -> None:
    """The scores as a table on stderr, a few answers side by side, and a one-line summary
    (on stdout for scripts, unless `summary_to_stdout` is false)."""
    from rich.markup import escape

    from cli import tables
    from cli.commands import _ui
    from cli.ops.evaluate import summary_line

    pairs = any(
        score is not None and score.preference_accuracy is not None
        for score in (report.base, report.tuned)
    )  # preference pairs: accuracy and margin columns, which SFT data has no use for
    columns = [
        tables.Column("MODEL", required=True),
        tables.Column("EXACT MATCH", priority=1, justify="right"),
        tables.Column("CORRECT", priority=2, justify="right"),
    ]
    if pairs:
        columns += [
            tables.Column("PREFERENCE", priority=1, justify="right"),
            tables.Column("MARGIN", priority=2, justify="right"),
        ]
    columns += [
        tables.Column("MEAN LOSS", priority=3, justify="right"),
        tables.Column("TIME", priority=4, justify="right"),
    ]
    table = tables.Table(columns)
    for score in (report.base, report.tuned):
        if score is None:
            continue
        correct = "-" if score.correct is None else f"{score.correct}/{score.examples}"
        margin = "-" if score.mean_margin is None else f"{score.mean_margin:+.2f}"
        table.add_row(
            score.label,
            _pct(score.exact_match),
            correct,
            *([_pct(score.preference_accuracy), margin] if pairs else []),
            tables.number(score.mean_loss, 3),
            _ui.fmt_duration(score.seconds),
        )
    _ui.info(f"[bold]{escape(str(report.data_file))}[/] ({report.format}, {report.base.examples})")
    table.render(_ui.console())
    if report.tuned is not None and report.base.correct is not None and samples:
        _ui.print_table(_samples_table(report.base, report.tuned, samples))
    if summary_to_stdout:
        _ui.out(summary_line(report))
    else:
        _ui.info(f"[bold]{escape(summary_line(report))}[/]")


def _samples_table(base_score: ModelScore, tuned_score: ModelScore, count: int) -> Table:
    """A few held-out examples, one line each: what was asked, expected, and both answers."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("INPUT", "EXPECTED", "BASE", "FINE-TUNED"):
        table.add_column(name, no_wrap=True, overflow="ellipsis", min_width=len(name))
    pairs = list(zip(base_score.samples, tuned_score.samples, strict=False))[:count]
    for base, tuned in pairs:
        table.add_row(
            escape(_short(base.prompt, 34)),
            escape(_short(base.reference, 10)),
            escape(_short(base.prediction, 24)),
            escape(_short(tuned.prediction, 10)),
        )
    return table


def _short(text: str, width: int) -> str:
    """One line of at most `width` characters; control characters from the data or the model
    (escape sequences) are shown as escapes, never sent to the terminal."""
    from cli.safe_text import safe_text

    flat = safe_text(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: width - 1] + "…"
