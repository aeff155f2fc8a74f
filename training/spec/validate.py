"""Check a training config and its data before any GPU second is paid (no torch).

`validate_config_file(path, workspace)` is what `ftk run` calls locally and what
`python -m training validate` prints; training runs the same checks before it loads a model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from training.spec import dataset, methods, paths, preference_data
from training.spec.config import ConfigError, TrainingConfig, load_config
from training.spec.yamlfile import key_lines

SUMMARISE_OVER = 3  # more warnings of one kind in one file than this print as one line
KIND_LABELS = {"duplicate": "examples repeat an earlier example"}
# What transformers' from_pretrained looks for in a local folder (safetensors or PyTorch, whole
# or sharded with an index).
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


@dataclass(frozen=True)
class Issue:
    """One finding; `line` is 1-based or None when it concerns the whole file. Issues of one
    `kind` in one file are summarised by `ValidationReport.warning_lines`."""

    file: str
    line: int | None
    message: str
    kind: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class ValidationReport:
    """Errors stop a run; warnings do not. `stats` holds example counts and the detected format."""

    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    config: TrainingConfig | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": [asdict(i) for i in self.errors],
            "warnings": [asdict(i) for i in self.warnings],
            "stats": self.stats,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def warning_lines(self, all_warnings: bool = False) -> list[str]:
        """Warnings as `file:line: message` lines; more than `SUMMARISE_OVER` of one kind in one
        file become one line with their count and first lines, unless `all_warnings`."""
        groups: dict[tuple[str, str], list[Issue]] = {}
        for issue in self.warnings:
            if issue.kind:
                groups.setdefault((issue.file, issue.kind), []).append(issue)
        out: list[str] = []
        for issue in self.warnings:
            group = groups.get((issue.file, issue.kind or ""), [])
            if all_warnings or len(group) <= SUMMARISE_OVER:
                out.append(str(issue))
            elif issue is group[0]:
                out.append(self._summary(group))
        return out

    def _summary(self, group: list[Issue]) -> str:
        first = group[0]
        label = KIND_LABELS.get(first.kind or "", f"{first.kind} warnings")
        lines = [i.line for i in group if i.line is not None]
        config = f" --config {self.config.source}" if self.config and self.config.source else ""
        message = (
            f"{len(group)} {label}: lines {dataset.format_lines(lines)} "
            f"(`python -m training validate{config} --all-warnings` lists each)"
        )
        return str(Issue(first.file, first.line, message))


def validate_config_file(path: Path, workspace: Path) -> ValidationReport:
    """Load the config at `path` and check its model reference and data files."""
    path, workspace = Path(path), Path(workspace)
    report = ValidationReport()
    try:
        config = load_config(path)
    except ConfigError as exc:
        report.errors.append(Issue(str(path), exc.line, exc.message))
        return report
    report.config = config
    validate_config(config, workspace, report)
    return report


def validate_config(
    config: TrainingConfig,
    workspace: Path,
    report: ValidationReport | None = None,
    count_tokens: Callable[[str], int] | None = None,
) -> ValidationReport:
    """The checks after parsing; `count_tokens` defaults to the model's tokenizer if local."""
    report = report or ValidationReport(config=config)
    source = str(config.source) if config.source else "config"
    _check_output(config, workspace, report, source)
    _check_model(config, workspace, report, source)
    counter, estimated = _token_counter(config, workspace, count_tokens)
    train = _check_data(config, config.data.train_file, workspace, report, counter, estimated)
    if train is not None:
        report.stats["format"] = train.format
        n_train = len(train.examples)
        if config.data.eval_split > 0:
            n_eval = max(1, round(n_train * config.data.eval_split))
            if n_train - n_eval < 1:
                report.errors.append(
                    Issue(source, None, f"data.eval_split leaves no training examples ({n_train})")
                )
            report.stats["train_examples"] = n_train - n_eval
            report.stats["eval_examples"] = n_eval
        else:
            report.stats["train_examples"] = n_train
            report.stats["eval_examples"] = 0
    if config.data.eval_file:
        evals = _check_data(config, config.data.eval_file, workspace, report, counter, estimated)
        if evals is not None:
            report.stats["eval_examples"] = len(evals.examples)
            if train is not None and train.format and evals.format != train.format:
                report.errors.append(
                    Issue(
                        str(evals.path),
                        None,
                        f"eval file is in format {evals.format!r}, train file in {train.format!r}",
                    )
                )
    return report


def _check_output(config: TrainingConfig, workspace: Path, report: ValidationReport, src: str):
    if not config.output.dir:
        return
    try:
        paths.run_dir(config, workspace)
    except ConfigError as exc:
        report.errors.append(Issue(src, _line(config, "output.dir"), exc.message))


def _check_model(config: TrainingConfig, workspace: Path, report: ValidationReport, src: str):
    try:
        ref = paths.classify_model(config.model.name, workspace)
    except ValueError as exc:
        report.errors.append(Issue(src, _line(config, "model.name"), str(exc)))
        return
    if ref.path is not None:
        problem = model_folder_problem(ref.path)
        if problem:
            message = f"model folder {ref.path} is not a usable model: {problem}"
            report.errors.append(Issue(src, _line(config, "model.name"), message))
            return
    if ref.entry is not None and (ref.entry.gpu_count > 1 or ref.entry.gated):
        report.warnings.append(
            Issue(src, _line(config, "model.name"), f"{ref.entry.id}: {ref.entry.quota_note}")
        )
    report.stats["model"] = {"kind": ref.kind, "name": ref.name}


def model_folder_problem(folder: Path) -> str | None:
    """Why transformers could not load a model from `folder`, or None (files only, no torch)."""
    config_file = folder / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no config.json"
    except (OSError, ValueError):
        return "config.json is not readable JSON"
    if not isinstance(config, dict):
        return "config.json is not a JSON object"
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        return f"no weights ({', '.join(WEIGHT_FILES)})"
    return None


def _check_data(
    config: TrainingConfig,
    value: str,
    workspace: Path,
    report: ValidationReport,
    counter: Callable[[str], int],
    estimated: bool,
) -> dataset.DataCheck | None:
    path = paths.in_workspace(value, workspace)
    if not path.is_file():
        key = "data.train_file" if value == config.data.train_file else "data.eval_file"
        report.errors.append(
            Issue(str(config.source or "config"), _line(config, key), f"{key}: not found: {path}")
        )
        return None
    if methods.is_preference(config):
        check = preference_data.check_file(path)
    else:
        check = dataset.check_file(path, config.data)
    report.errors += [Issue(str(path), p.line, p.message, p.kind) for p in check.errors]
    report.warnings += [Issue(str(path), p.line, p.message, p.kind) for p in check.warnings]
    if methods.is_preference(config):
        if check.examples and not check.errors:
            _check_pair_lengths(config, check, report, counter, estimated)
        return check
    if check.examples and not check.errors:
        max_length = config.train.max_length
        long = dataset.long_examples(check.examples, max_length, counter)
        if long:
            how = " (estimated at 4 characters per token)" if estimated else ""
            report.warnings.append(
                Issue(
                    str(path),
                    long[0],
                    f"{len(long)} example(s) are longer than train.max_length={max_length} "
                    f"tokens{how} and will be truncated: lines {dataset.format_lines(long)}",
                )
            )
    return check


def _check_pair_lengths(
    config: TrainingConfig,
    check: dataset.DataCheck,
    report: ValidationReport,
    counter: Callable[[str], int],
    estimated: bool,
) -> None:
    """A prompt that fills train.max_length is an error when the model's tokenizer counted it
    (TRL would drop the pair without a word); on an estimate it is a warning, and training
    counts again with the tokenizer before its first step."""
    path, max_length = str(check.path), config.train.max_length
    long = preference_data.long_prompts(
        check.examples, max_length, lambda e: preference_data.prompt_tokens(e, counter)
    )
    if long:
        issue = Issue(
            path,
            long[0],
            f"{len(long)} prompt(s) are train.max_length={max_length} tokens or longer"
            + (" (estimated at 4 characters per token)" if estimated else "")
            + f", leaving no room for an answer: lines {dataset.format_lines(long)}",
        )
        (report.warnings if estimated else report.errors).append(issue)
    truncated = preference_data.long_pairs(check.examples, max_length, counter)
    truncated = [line for line in truncated if line not in long]
    if truncated:
        how = " (estimated at 4 characters per token)" if estimated else ""
        report.warnings.append(
            Issue(
                path,
                truncated[0],
                f"{len(truncated)} pair(s) are longer than train.max_length={max_length} "
                f"tokens{how}; their answers will be truncated: lines "
                f"{dataset.format_lines(truncated)}",
            )
        )


def _token_counter(
    config: TrainingConfig, workspace: Path, given: Callable[[str], int] | None
) -> tuple[Callable[[str], int], bool]:
    """A counter from the model's own `tokenizer.json` when it is on disk, else an estimate."""
    if given is not None:
        return given, False
    for folder in _model_folders(config, workspace):
        tokenizer_file = folder / "tokenizer.json"
        if tokenizer_file.is_file():
            try:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(tokenizer_file))
            except Exception:  # a tokenizer we cannot read only costs precision here
                break
            return _tokenizer_counter(tokenizer), False
    return (lambda text: (len(text) + 3) // 4), True


def _tokenizer_counter(tokenizer: Any) -> Callable[[str], int]:
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def _model_folders(config: TrainingConfig, workspace: Path) -> list[Path]:
    try:
        ref = paths.classify_model(config.model.name, workspace)
    except ValueError:
        return []
    if ref.path is not None:
        return [ref.path]
    return [paths.cache_folder(paths.model_cache(workspace), ref.name)]


def _line(config: TrainingConfig, key: str) -> int | None:
    """The line of `key` in the config file (re-reads it; cheap and only on errors)."""
    if config.source is None:
        return None
    try:
        return key_lines(config.source.read_text(encoding="utf-8")).get(key)
    except (OSError, ValueError, yaml.YAMLError):
        return None
