"""Where an execution's time budget starts: when its container started, not when Python did.

The job's script records the container's start (`contract.env.CONTAINER_STARTED_AT`, epoch
seconds) as its first step, before the lock's packages are installed (`bootstrap env`), so a
slow first install is counted against `FTK_TIME_BUDGET_SECONDS` and the save margin before the
replica timeout stays intact. Elsewhere (the local target, a person's shell) the budget counts
from now. No torch here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

from contract import env as ftk_env


def started_at(
    environ: Mapping[str, str] = os.environ,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
) -> float:
    """The `time.monotonic()` reading the budget counts from."""
    now = monotonic()
    raw = environ.get(ftk_env.CONTAINER_STARTED_AT, "").strip()
    try:
        elapsed = wall() - float(raw)
    except ValueError:
        return now
    # A clock that went backwards, or a value from the future, reads as "just started".
    return now - max(elapsed, 0.0)
