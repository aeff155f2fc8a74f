"""`ftk sync`: the workspace to the target's share, with progress reporting hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from cli.errors import UsageError
from cli.sync.engine import SyncResult, dry_run_result, plan_sync, run_sync
from cli.targets.base import Target


class Progress(Protocol):
    def start(self, total_files: int, total_bytes: int) -> None: ...

    def advance(self, path: str, nbytes: int) -> None: ...


def sync_workspace(
    target: Target,
    project_dir: Path,
    *,
    dry_run: bool = False,
    delete: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
) -> SyncResult:
    """Sync `project_dir` to the target's share; `workers` defaults to the share's hint."""
    if not project_dir.is_dir():
        raise UsageError(f"project folder not found: {project_dir}", hint="check --project-dir")
    share = target.share()
    plan = plan_sync(project_dir, share, delete=delete, workers=workers)
    if dry_run:
        return dry_run_result(plan)
    if progress is not None:
        progress.start(len(plan.upload), plan.upload_bytes)
    on_progress = progress.advance if progress is not None else None
    return run_sync(project_dir, share, plan, workers=workers, on_progress=on_progress)
