"""The phases of an execution's (or a replica's) start, as its own log lines announce them.

The bootstrap, the trainer and the server print `phase_line(Phase.X)` when they enter a phase;
`ftk ps` and `ftk logs` read the newest such line back with `latest_phase`. One spelling, here, so
the writer and the reader cannot drift apart. Standard library only (the bootstrap imports it
before any dependency is installed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Final

PREFIX: Final = "ftk-phase:"


class Phase(StrEnum):
    WAITING = "waiting"  # queued: no replica yet (said by the target, not by a log line)
    PREPARING = "preparing-environment"  # bootstrap: building or reusing the dependency set
    LOADING_MODEL = "loading-model"
    TRAINING = "training"
    SERVING = "serving"  # the app answers /ready

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: Final = {
    Phase.WAITING: "waiting for a replica",
    Phase.PREPARING: "preparing environment",
    Phase.LOADING_MODEL: "loading model",
    Phase.TRAINING: "training",
    Phase.SERVING: "serving",
}
_LINE: Final = re.compile(re.escape(PREFIX) + r" ([a-z-]+)")


def phase_line(phase: Phase, detail: str = "") -> str:
    """The log line announcing `phase`, e.g. `ftk-phase: loading-model (HuggingFaceTB/...)`."""
    return f"{PREFIX} {phase.value}" + (f" ({detail})" if detail else "")


def parse_phase(line: str) -> Phase | None:
    """The phase a log line announces (anywhere in it: log streams prefix a timestamp), or None."""
    match = _LINE.search(line)
    if not match:
        return None
    try:
        return Phase(match.group(1))
    except ValueError:
        return None


def latest_phase(lines: Iterable[str]) -> Phase | None:
    """The phase announced last in `lines`."""
    found = None
    for line in lines:
        found = parse_phase(line) or found
    return found
