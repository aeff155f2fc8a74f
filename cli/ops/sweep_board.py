"""A sweep's leaderboard: each point's values, status, final losses and, with an eval file, its
`ftk eval` score; best first.

Scoring runs on this machine, as `ftk eval` does: a finished run's adapter is downloaded into
`./runs/<run>` (from the local share or from Azure Files) and scored with the training extra. A
score is computed once and kept in the sweep's state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.ops.sweep import Point, Sweep, save, summary
from cli.ops.sweep_space import Value
from cli.targets.base import ExecutionStatus, Target

Scorer = Callable[[str, Path], tuple[float | None, float]]  # (run id, eval file) -> (EM, loss)


@dataclass(frozen=True)
class Row:
    rank: int
    run_id: str
    values: dict[str, Value]
    status: str
    execution: str | None
    train_loss: float | None
    eval_loss: float | None
    score: float | None
    eval_file_loss: float | None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def score_with_ftk_eval(project_dir: Path, target: Target) -> Scorer:
    """Download the run's adapter into ./runs/<run>, then `ftk eval` it on this machine."""

    def score(run_id: str, eval_file: Path) -> tuple[float | None, float]:
        from cli.ops.download import download_run
        from cli.ops.evaluate import evaluate_run, find_run
        from contract.layout import RunLayout

        download_run(target.share(), run_id, project_dir / RunLayout(run_id).folder)
        report = evaluate_run(find_run(run_id, project_dir), eval_file)
        tuned = report.tuned or report.base
        if tuned.exact_match is None and tuned.preference_accuracy is not None:
            return tuned.preference_accuracy, tuned.mean_loss  # a DPO/ORPO sweep scored on pairs
        return tuned.exact_match, tuned.mean_loss

    return score


def score_finished(target: Target, sweep: Sweep, eval_file: Path, scorer: Scorer) -> list[str]:
    """Score every succeeded point not scored yet; returns the runs scored."""
    done = []
    for p in sweep.points:
        if p.status == ExecutionStatus.SUCCEEDED and p.eval_file_loss is None:
            p.score, p.eval_file_loss = scorer(p.run_id, eval_file)
            save(target, sweep)
            done.append(p.run_id)
    return done


def _key(row: Row) -> tuple[Any, ...]:
    """Best first: higher exact match (preference accuracy on pairs), lower eval-file loss, lower
    eval loss, lower train loss."""

    def low(v: float | None) -> float:
        return float("inf") if v is None else v

    return (
        -(row.score if row.score is not None else -1.0),
        low(row.eval_file_loss),
        low(row.eval_loss),
        low(row.train_loss),
    )


def leaderboard(target: Target, sweep: Sweep) -> list[Row]:
    rows = [_row(target, p) for p in sweep.points]
    rows.sort(key=_key)
    return [Row(i + 1, *_fields(r)) for i, r in enumerate(rows)]


def _row(target: Target, p: Point) -> Row:
    found = summary(target, p.run_id) if p.execution else {}
    return Row(
        0,
        p.run_id,
        p.values,
        p.status,
        p.execution,
        found.get("train_loss"),
        found.get("eval_loss"),
        p.score,
        p.eval_file_loss,
    )


def _fields(row: Row) -> tuple[Any, ...]:
    return tuple(getattr(row, k) for k in list(row.__dataclass_fields__)[1:])


# Short names of a few long training keys on the board; any other key shows its last part.
ALIASES = {
    "learning_rate": "lr",
    "batch_size": "bs",
    "gradient_accumulation_steps": "accum",
    "weight_decay": "wd",
    "warmup_ratio": "warmup",
}


def short_names(keys: Iterable[str]) -> dict[str, str]:
    """Each dotted key's name on the board: its last part (or its alias), with more of the key
    where two would read the same (`lora.dropout` and `train.dropout`)."""
    keys = list(dict.fromkeys(keys))
    depth = dict.fromkeys(keys, 1)

    def name(key: str) -> str:
        parts = key.split(".")
        if depth[key] == 1:
            return ALIASES.get(parts[-1], parts[-1])
        return ".".join(parts[-depth[key] :])

    while True:
        seen: dict[str, list[str]] = {}
        for k in keys:
            seen.setdefault(name(k), []).append(k)
        clashes = [k for same in seen.values() if len(same) > 1 for k in same]
        growing = [k for k in clashes if depth[k] < len(k.split("."))]
        if not growing:
            return {k: name(k) if k not in clashes else k for k in keys}
        for k in growing:
            depth[k] += 1


def value_text(value: Value) -> str:
    """A value as the board shows it: `5e-4` for small or large floats, `0.05`, `32`, `true`."""
    if isinstance(value, bool) or not isinstance(value, float):
        text = json.dumps(value)
        return text if isinstance(value, str) and (" " in value or not value) else text.strip('"')
    if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e5):
        mantissa, exponent = f"{value:.3e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.4g}"


def best(rows: list[Row]) -> Row | None:
    """The leaderboard's best: the first succeeded run that has a score or a loss."""
    for r in rows:
        scored = (r.score, r.eval_file_loss, r.eval_loss, r.train_loss)
        if r.status == ExecutionStatus.SUCCEEDED and any(v is not None for v in scored):
            return r
    return None
