"""`ftk download RUN`: a run's adapter, metrics, loss plot and summary, skipping identical files."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.errors import NotFoundError
from cli.ops.runs import check_run_id
from cli.runs_on_share import run_status
from cli.targets.base import RemoteFile, Share
from contract.layout import RESULT_DIRS, RESULT_FILES, RunLayout

SMALL = 1 << 20  # files up to this size are compared by content; larger ones (weights) by size


@dataclass
class DownloadResult:
    run_id: str
    dest: Path
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dest": str(self.dest),
            "downloaded": self.downloaded,
            "skipped": self.skipped,
            "bytes": self.bytes,
        }


def _wanted(relative: str) -> bool:
    folder, _, rest = relative.partition("/")
    return (folder in RESULT_DIRS and bool(rest)) or relative in RESULT_FILES


def wanted_files(share: Share, run_id: str) -> list[RemoteFile]:
    run = RunLayout(run_id)
    prefix = run.prefix()
    files = list(share.list_files(prefix))
    if not files:
        raise NotFoundError(f"no run named {run_id} on the share", hint="see `ftk ps` for run ids")
    picked = [f for f in files if _wanted(f.path[len(prefix) :])]
    if not any(f.path == run.adapter_config for f in picked):
        status = run_status(share, run_id) or "unknown"
        hints = {
            "running": "it is still training: follow it with `ftk logs -f`, then download it",
            "resumable": f"it stopped on its time budget: continue it with `ftk resume {run_id}`",
            "failed": "it failed: see `ftk logs` for why, fix, and start a new run",
        }
        raise NotFoundError(
            f"run {run_id} has no adapter yet (status: {status})",
            hint=hints.get(status, "see `ftk ps` and `ftk logs` for its state"),
        )
    return picked


def _identical(local: Path, remote: RemoteFile, share: Share) -> bool:
    if not local.is_file() or local.stat().st_size != remote.size:
        return False
    if remote.size > SMALL:
        return True  # adapter weights are written once per run; same size means same file
    return local.read_bytes() == share.read_bytes(remote.path)


def download_run(
    share: Share,
    run_id: str,
    dest: Path,
    *,
    on_file: Callable[[str, int], None] | None = None,
) -> DownloadResult:
    check_run_id(run_id)
    files = wanted_files(share, run_id)
    prefix = RunLayout(run_id).prefix()
    result = DownloadResult(run_id, dest)
    for remote in files:
        rel = remote.path[len(prefix) :]
        local = dest / rel
        if _identical(local, remote, share):
            result.skipped.append(rel)
        else:
            local.parent.mkdir(parents=True, exist_ok=True)
            tmp = local.with_name(f".{local.name}.ftk-part")
            try:
                share.download_file(remote.path, tmp)
                os.replace(tmp, local)
            finally:
                tmp.unlink(missing_ok=True)
            result.downloaded.append(rel)
            result.bytes += remote.size
        if on_file:
            on_file(rel, remote.size)
    return result
