"""A doctor's report: one row per check, each with a status, the evidence and the fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "✓"
    WARN = "!"  # works, or could not be checked: read the evidence
    FAIL = "✗"  # will not work until fixed


@dataclass(frozen=True)
class Row:
    status: Status
    name: str
    evidence: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.name.lower(),
            "symbol": str(self.status),
            "check": self.name,
            "evidence": self.evidence,
            "fix": self.fix,
        }


def ok(name: str, evidence: str) -> Row:
    return Row(Status.OK, name, evidence)


def warn(name: str, evidence: str, fix: str | None = None) -> Row:
    return Row(Status.WARN, name, evidence, fix)


def fail(name: str, evidence: str, fix: str | None = None) -> Row:
    return Row(Status.FAIL, name, evidence, fix)


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
