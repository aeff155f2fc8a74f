"""`ftk download RUN`: a run's adapter, metrics, loss plot and summary; files already there with
the same content (SHA-256) are left untouched. Every file is fetched to compare: the share keeps
no hash of what the job writes, and sizes cannot tell two adapters of one config apart."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.errors import NotFoundError
from cli.ops.runs import check_run_id
from cli.targets.base import RemoteFile, Share
from cli.targets.runs_on_share import run_status
from contract.layout import RESULT_DIRS, RESULT_FILES, RunLayout


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
    run = RunLayout(check_run_id(run_id))
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


def _same_content(a: Path, b: Path) -> bool:
    """Whether two local files hold the same bytes (by SHA-256, read in blocks)."""
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        return hashlib.file_digest(fa, "sha256").digest() == (
            hashlib.file_digest(fb, "sha256").digest()
        )


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
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.ftk-part")
        try:
            share.download_file(remote.path, tmp)
            # By content, never by size: two adapters of one config are the same size, and a
            # folder may hold another run's files (`--to model`, a run id reused on another stack)
            if local.is_file() and not local.is_symlink() and _same_content(local, tmp):
                result.skipped.append(rel)  # left as it was, time stamps included
            else:
                os.replace(tmp, local)
                result.downloaded.append(rel)
                result.bytes += remote.size
        finally:
            tmp.unlink(missing_ok=True)
        if on_file:
            on_file(rel, remote.size)
    return result
