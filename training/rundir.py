"""The run directory on the share: status word, checkpoints with `.complete` markers (no torch).

```
<run>/config.yaml  checkpoints/checkpoint-<step>/.complete  adapter/  metrics.jsonl  loss.png
      summary.json  status
```
A checkpoint counts only once its `.complete` marker exists (written last); folders without it
were left by a killed replica and are deleted before training starts, never loaded.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from contract import layout
from contract.layout import COMPLETE_MARKER, STATUSES

CHECKPOINT = re.compile(r"checkpoint-(\d+)")


class RunDir:
    """Paths and small file operations of one run directory.

    `writer=False` (data-parallel ranks other than 0) makes every write here a no-op, so one
    process alone writes the status, markers and rotations.
    """

    def __init__(self, root: Path, *, writer: bool = True):
        self.root = Path(root)
        self.writer = writer

    @property
    def checkpoints(self) -> Path:
        return self.root / layout.CHECKPOINTS_DIR

    @property
    def adapter(self) -> Path:
        return self.root / layout.ADAPTER_DIR

    @property
    def metrics(self) -> Path:
        return self.root / layout.METRICS_FILE

    @property
    def loss_plot(self) -> Path:
        return self.root / layout.LOSS_PLOT_FILE

    @property
    def summary(self) -> Path:
        return self.root / layout.SUMMARY_FILE

    @property
    def status_file(self) -> Path:
        return self.root / layout.STATUS_FILE

    def status(self) -> str | None:
        try:
            return self.status_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def set_status(self, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        if not self.writer:
            return
        write_atomic(self.status_file, status + "\n")

    def checkpoint_steps(self, complete_only: bool = True) -> list[int]:
        """Steps of the checkpoints on disk, oldest first."""
        if not self.checkpoints.is_dir():
            return []
        steps = []
        for child in self.checkpoints.iterdir():
            match = CHECKPOINT.fullmatch(child.name)
            if match and child.is_dir():
                if complete_only and not (child / COMPLETE_MARKER).is_file():
                    continue
                steps.append(int(match.group(1)))
        return sorted(steps)

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"checkpoint-{step}"

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint, or None."""
        steps = self.checkpoint_steps()
        return self.checkpoint(steps[-1]) if steps else None

    def remove_partial_checkpoints(self) -> list[Path]:
        """Delete checkpoint folders without a `.complete` marker; returns what was removed."""
        if not self.writer:
            return []
        complete = set(self.checkpoint_steps())
        removed = []
        for step in self.checkpoint_steps(complete_only=False):
            if step not in complete:
                path = self.checkpoint(step)
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed

    def mark_complete(self, step: int) -> None:
        if not self.writer:
            return
        write_atomic(self.checkpoint(step) / COMPLETE_MARKER, f"{step}\n")

    def rotate(self, keep: int | None) -> list[Path]:
        """Delete all but the newest `keep` complete checkpoints (only ever after a new one is
        complete, so a kill at any moment leaves at least one complete checkpoint)."""
        if not self.writer:
            return []
        steps = self.checkpoint_steps()
        if keep is None or len(steps) <= keep:
            return []
        removed = [self.checkpoint(step) for step in steps[: len(steps) - keep]]
        for path in removed:
            shutil.rmtree(path, ignore_errors=True)
        return removed


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to a temp file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
