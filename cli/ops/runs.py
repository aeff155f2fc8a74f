"""Starting fine-tuning runs: validate the config locally, sync, write the run's config, start.

A run id names a run (a folder `runs/<run>/` on the share); each start of it is an execution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli.errors import NotFoundError, UsageError
from cli.ops.executions import active
from cli.ops.sync import Progress, sync_workspace
from cli.sync.engine import SyncResult
from cli.targets.base import Execution, Target
from cli.targets.runs_on_share import has_config, run_status
from contract.layout import RunLayout, valid_run_id

CONFIG_DIR = "finetuning"


@dataclass
class RunStart:
    run_id: str
    execution: Execution
    sync: SyncResult | None = None
    warnings: list[str] = field(default_factory=list)
    others_active: list[Execution] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "execution": self.execution.name,
            "status": str(self.execution.status),
            "portal_url": self.execution.portal_url,
            "warnings": self.warnings,
            "others_active": [e.name for e in self.others_active],
            "sync": self.sync.to_dict() if self.sync else None,
        }


def find_config(project_dir: Path, given: Path | None) -> Path:
    """The training config to use: the given one (relative to the current folder, else to the
    project), else the only YAML in `finetuning/`."""
    if given is not None:
        for path in (given, project_dir / given) if not given.is_absolute() else (given,):
            if path.is_file():
                return path.resolve()
        raise UsageError(f"training config not found: {given}")
    candidates = sorted((project_dir / CONFIG_DIR).glob("*.y*ml"))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise UsageError(
            "no training config given", hint="pass one: `ftk run finetuning/<config>.yaml`"
        )
    names = ", ".join(str(c.relative_to(project_dir)) for c in candidates)
    raise UsageError(f"several training configs: {names}", hint="name one: `ftk run CONFIG`")


def validate_config(config: Path, workspace: Path) -> list[str]:
    """Validate with the training package's pure-Python checks; returns warnings.

    Raises UsageError listing every error. When the training package is not importable (a project
    without it), validation is skipped with a warning rather than blocking the run.
    """
    try:
        from training.spec.validate import validate_config_file
    except ImportError as exc:
        return [f"config not validated locally (training package not importable: {exc})"]
    report = validate_config_file(config, workspace)

    def fmt(issue: Any) -> str:
        where = f"{issue.file}:{issue.line}" if getattr(issue, "line", None) else str(issue.file)
        return f"{where}: {issue.message}"

    if not report.ok:
        errors = [fmt(i) for i in report.errors]
        raise UsageError(
            f"{config.name} is not valid: " + "; ".join(errors),
            hint="fix the config (or its dataset) and run again; nothing was started",
        )
    return report.warning_lines()  # repeated warnings (duplicates) summarised in one line


def _output_dir(config: Path) -> str | None:
    """The config's `output.dir`, if it sets one (None when the training package is absent)."""
    try:
        from training.spec.config import load_config
    except ImportError:
        return None
    return load_config(config).output.dir


def new_run_id(config: Path, now: datetime | None = None) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", config.stem).strip("-._").lower() or "run"
    return f"{stem[:50]}-{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}"


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not valid_run_id(run_id):
        raise UsageError(
            f"invalid run id {run_id!r}",
            hint="use letters, digits, '.', '_' or '-' (at most 80, starting with a letter/digit)",
        )
    return run_id


def run_config_path(run_id: str) -> str:
    return RunLayout(run_id).config


def _missing_secrets(target: Target) -> list[str]:
    return [
        f"{name} is not set in your environment (recorded with `ftk secret set`)"
        for name in target.secrets.unavailable()
    ]


def start_run(
    target: Target,
    project_dir: Path,
    config: Path,
    *,
    run_id: str | None = None,
    sync: bool = True,
    progress: Progress | None = None,
    env: dict[str, str] | None = None,
) -> RunStart:
    """Validate, sync, write `runs/<run>/config.yaml`, start an execution (with `env` added)."""
    run_id = check_run_id(run_id) if run_id else new_run_id(config)
    warnings = validate_config(config, project_dir)
    output_dir = _output_dir(config)
    if output_dir:
        warnings.append(
            f"output.dir ({output_dir}) is ignored by `ftk run`: the run writes to "
            f"{RunLayout(run_id).folder}/, where ps, download and deploy find it"
        )
    share = target.share()
    if has_config(share, run_id):
        raise UsageError(
            f"run {run_id} already exists",
            hint=f"continue it with `ftk resume {run_id}`, or pick another --run-id",
        )
    others = active(target.executions())
    synced = sync_workspace(target, project_dir, progress=progress) if sync else None
    share.make_dirs(RunLayout(run_id).folder)
    share.write_bytes(run_config_path(run_id), config.read_bytes())
    warnings += _missing_secrets(target)
    execution = target.start_execution(run_id, env)
    return RunStart(run_id, execution, synced, [*warnings, *execution.notes], others)


def resume_run(target: Target, run_id: str) -> RunStart:
    """Start a new execution of an existing run; training continues from its newest checkpoint."""
    check_run_id(run_id)
    share = target.share()
    if not has_config(share, run_id):
        raise NotFoundError(f"no run named {run_id}", hint="see `ftk ps` for run ids")
    status = run_status(share, run_id)
    if status == "succeeded":
        raise UsageError(
            f"run {run_id} already succeeded", hint=f"fetch it with `ftk download {run_id}`"
        )
    executions = target.executions()
    same = [e for e in active(executions) if e.run_id == run_id]
    if same:
        raise UsageError(
            f"run {run_id} is already active in execution {same[0].name}",
            hint=f"follow it with `ftk logs {same[0].name} -f`",
        )
    others = active(executions)
    warnings = _missing_secrets(target)
    execution = target.start_execution(run_id)
    return RunStart(run_id, execution, None, [*warnings, *execution.notes], others)
