"""`ftk eval RUN --data FILE`: find a run's adapter and base model on this machine, then score both.

A run is read from `./runs/RUN` (what `ftk download` writes, for Azure and local runs alike), else,
with `--local`, straight from the local share. The model code (`training.evaluate`) is imported only
when scoring starts.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.errors import NotFoundError, UsageError
from cli.ops.runs import check_run_id
from contract import layout
from contract.layout import RunLayout

if TYPE_CHECKING:
    from training.evaluate import EvalReport, Progress
    from training.spec.config import DataSection


@dataclass(frozen=True)
class RunFiles:
    run_id: str
    root: Path  # the folder holding adapter/ (and config.yaml when it was downloaded too)
    base_model: str  # as the adapter records it: a model id or a folder
    data: DataSection | None  # the run's data section (format, template), when its config is here

    @property
    def adapter(self) -> Path:
        return self.root / "adapter"


def find_run(run_id: str, project_dir: Path, share_root: Path | None = None) -> RunFiles:
    """The run's files in `./runs/RUN`, else under `share_root/runs/RUN` (the local share)."""
    check_run_id(run_id)
    run = RunLayout(run_id)
    candidates = [project_dir / run.folder]
    if share_root is not None:
        candidates.append(share_root / run.folder)
    for root in candidates:
        if (root / layout.ADAPTER_DIR / layout.ADAPTER_CONFIG_FILE).is_file():
            return RunFiles(run_id, root, _base_model(root), _data_section(root))
    if any(c.is_dir() for c in candidates):
        raise NotFoundError(
            f"run {run_id} has no adapter here (it has not succeeded, or was not downloaded)",
            hint=f"see `ftk ps`; fetch a finished run with `ftk download {run_id}`",
        )
    raise NotFoundError(
        f"run {run_id} is not on this machine",
        hint=f"download it first: `ftk download {run_id}` (it lands in ./runs/{run_id})",
    )


def _base_model(root: Path) -> str:
    try:
        config = json.loads((root / "adapter" / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {root / 'adapter' / 'adapter_config.json'}: {exc}") from None
    base = config.get("base_model_name_or_path")
    if not base:
        raise UsageError(
            f"the adapter of {root.name} does not name its base model", hint="pass --base MODEL"
        )
    return str(base)


def _data_section(root: Path) -> DataSection | None:
    """The run's `data` section, so eval reads the file the way training did (format, template)."""
    path = root / "config.yaml"
    if not path.is_file():
        return None
    from training.spec.config import ConfigError, load_config

    try:
        return load_config(path).data
    except ConfigError:
        return None


def model_cache() -> Path:
    """The same cache `--local` training and serving use (`$FTK_MODEL_CACHE`, else per user)."""
    from cli.targets.local import default_model_cache

    return default_model_cache()


def resolve_base(name: str, cache: Path) -> Path:
    """A local folder with the base model (converted or downloaded into `cache` once)."""
    try:
        from training.models import ModelNotFoundError, resolve_model
    except ImportError as exc:  # pragma: no cover - training is part of this package
        raise UsageError(f"the training package is not importable: {exc}") from None
    try:
        return resolve_model(name, cache)
    except ModelNotFoundError as exc:
        raise NotFoundError(str(exc), hint="pass --base with a local model folder") from None


def data_path(value: Path, project_dir: Path) -> Path:
    for path in (value, project_dir / value) if not value.is_absolute() else (value,):
        if path.is_file():
            return path.resolve()
    raise UsageError(f"eval data file not found: {value}")


def evaluate_run(
    run: RunFiles,
    data_file: Path,
    *,
    base: str | None = None,
    cache: Path | None = None,
    max_examples: int | None = None,
    batch_size: int = 8,
    max_new_tokens: int | None = None,
    on_progress: Progress | None = None,
) -> EvalReport:
    """Score the base model and the run's adapter on `data_file`."""
    try:
        from transformers.utils import logging as hf_logging

        from training.evaluate import EvalDataError, evaluate
    except ImportError as exc:
        raise UsageError(
            f"evaluation needs the training extra ({exc.name} is missing)",
            hint="pip install -e '.[train]'",
        ) from None
    base_path = resolve_base(base or run.base_model, cache or model_cache())
    hf_logging.disable_progress_bar()  # our own progress display says how far scoring is
    # Library chatter (bitsandbytes' optional CPU kernels, deprecations) is not for this screen.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return evaluate(
                base_path,
                run.adapter,
                data_file,
                data=run.data,
                max_examples=max_examples,
                batch_size=batch_size,
                max_new_tokens=max_new_tokens,
                on_progress=on_progress,
            )
    except EvalDataError as exc:
        raise UsageError(str(exc), hint="fix the file; it uses the training data formats") from None


def summary_line(report: Any) -> str:
    """'exact match 0% -> 95% (+95 points), mean loss 4.21 -> 0.08' for messages and reports;
    'preference accuracy 50% -> 90% (+40 points), mean margin -0.31 -> +4.20' for pairs."""
    base, tuned = report.base, report.tuned
    if base.preference_accuracy is not None:
        if tuned is None or tuned.preference_accuracy is None:
            return f"base: preference accuracy {base.preference_accuracy:.0%}"
        gain = round((tuned.preference_accuracy - base.preference_accuracy) * 100)
        return (
            f"preference accuracy {base.preference_accuracy:.0%} -> "
            f"{tuned.preference_accuracy:.0%} ({gain:+d} points), mean margin "
            f"{base.mean_margin:+.2f} -> {tuned.mean_margin:+.2f}"
        )
    if tuned is None:
        return f"base: mean loss {base.mean_loss:.3f}"
    loss = f"mean loss {base.mean_loss:.3f} -> {tuned.mean_loss:.3f}"
    if base.exact_match is None or tuned.exact_match is None:
        return loss
    gain = round((tuned.exact_match - base.exact_match) * 100)
    return (
        f"exact match {base.exact_match:.0%} -> {tuned.exact_match:.0%} ({gain:+d} points), {loss}"
    )
