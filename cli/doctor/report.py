"""A doctor's report: one row per check (`cli.targets.checks`), and what was examined."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cli.targets.checks import Row, Status, fail, ok, warn

__all__ = ["Report", "Row", "Status", "fail", "ok", "warn"]


@dataclass
class Report:
    target: str  # what was examined, in words
    rows: list[Row] = field(default_factory=list)
    estimate: dict[str, Any] | None = (
        None  # the run's cost and memory figures, when a config was given
    )

    @property
    def failed(self) -> bool:
        return any(r.status is Status.FAIL for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "ok": not self.failed,
            "checks": [r.to_dict() for r in self.rows],
            "estimate": self.estimate,
        }
