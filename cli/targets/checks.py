"""What a check of a platform says: one row with a status, the evidence and the fix.

The rows `ftk doctor` prints. A target's own checks (`Target.checks()`) and the doctor's
run-config checks (`cli.doctor.run_checks`) both return them; `cli.doctor.report` renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
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
