"""Executions of the fine-tuning job: listing with cost, choosing one, stopping, following."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cli.errors import ExitCode, FtkError, NotFoundError, UsageError
from cli.targets.base import Execution, ExecutionStatus, LogNotice, Target
from cli.targets.runs_on_share import run_status
from contract.phases import Phase, latest_phase

# How many of a running execution's last log lines `ftk ps` reads for its phase (the most a
# log tail gives, `ftk logs --tail`).
PHASE_TAIL = 300


def active(executions: list[Execution]) -> list[Execution]:
    return [e for e in executions if not e.status.finished]


def duration_seconds(execution: Execution, now: datetime | None = None) -> float | None:
    if execution.started_at is None:
        return None
    end = execution.ended_at or (now or datetime.now(UTC))
    return max((end - execution.started_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class ExecutionRow:
    execution: Execution
    duration_s: float | None
    cost: float | None
    phase: Phase | None = None
    currency: str = "USD"

    def to_dict(self) -> dict[str, Any]:
        e = self.execution
        return {
            "name": e.name,
            "run_id": e.run_id,
            "status": str(e.status),
            "started_at": e.started_at.isoformat() if e.started_at else None,
            "ended_at": e.ended_at.isoformat() if e.ended_at else None,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 1),
            "estimated_cost": self.cost,
            "currency": self.currency,
            "phase": self.phase.value if self.phase else None,
            "exit_code": e.exit_code,
            "portal_url": e.portal_url,
        }


def list_executions(target: Target, now: datetime | None = None) -> list[ExecutionRow]:
    executions = target.executions()
    pricing = target.pricing()
    rows = []
    for e in executions:
        seconds = duration_seconds(e, now)
        cost = pricing.cost(seconds)
        phase = execution_phase(target, e)
        rows.append(ExecutionRow(e, seconds, cost, phase, pricing.currency))
    return rows


def execution_phase(target: Target, execution: Execution) -> Phase | None:
    """Where a live execution's start has got to: queued is waiting for a replica; a running one
    says so in its own log (contract.phases). None when finished or not (yet) known."""
    if execution.status is ExecutionStatus.QUEUED:
        return Phase.WAITING
    if execution.status is not ExecutionStatus.RUNNING:
        return None
    try:
        lines = target.stream_logs(execution.name, follow=False, tail=PHASE_TAIL)
        return latest_phase(line for line in lines if not isinstance(line, LogNotice))
    except FtkError:
        return None  # the listing matters more than the phase


def resolve_execution(target: Target, name: str | None) -> Execution:
    """The named execution, else the newest active one, else the newest one."""
    if name:
        return target.get_execution(name)
    executions = target.executions()
    if not executions:
        raise NotFoundError("there are no executions yet", hint="start one with `ftk run CONFIG`")
    running = active(executions)
    return running[0] if running else executions[0]


def stop(target: Target, name: str | None) -> Execution:
    """Stop the named execution, or the only active one; returns it as it was before stopping."""
    if name:
        execution = target.get_execution(name)
    else:
        running = active(target.executions())
        if not running:
            raise NotFoundError("nothing is running", hint="see `ftk ps`")
        if len(running) > 1:
            names = ", ".join(e.name for e in running)
            raise UsageError(
                f"{len(running)} executions are active: {names}", hint="name one: `ftk stop NAME`"
            )
        execution = running[0]
    if execution.status.finished:
        raise UsageError(f"execution {execution.name} already ended ({execution.status})")
    target.stop_execution(execution.name)
    return execution


def follow(
    target: Target,
    name: str,
    on_line: Callable[[str], None],
    *,
    tail: int | None = None,
    settle_s: float = 60.0,
    run_id: str | None = None,
) -> Execution:
    """Stream an execution's logs until it ends; returns its final state, judged by its run
    (`run_outcome`) when `run_id` is given or known."""
    for line in target.stream_logs(name, follow=True, tail=tail):
        on_line(line)
    # The platform may report the end a little after the log stream closes.
    deadline = time.monotonic() + settle_s
    execution = target.get_execution(name)
    while not execution.status.finished and time.monotonic() < deadline:
        time.sleep(1.0)
        execution = target.get_execution(name)
    return run_outcome(target, execution, run_id, on_line)


def run_outcome(
    target: Target,
    execution: Execution,
    run_id: str | None,
    on_line: Callable[[str], None] | None = None,
) -> Execution:
    """An ended execution as its run ended: `succeeded` only when the run's status file says
    so. An execution that exits 0 without training its run (one that found no request of its
    own, a changed job command) is not the run's success."""
    run = run_id or execution.run_id
    if run is None:
        return execution
    if execution.run_id != run:
        execution = replace(execution, run_id=run)
    if execution.status != ExecutionStatus.SUCCEEDED:
        return execution
    status = run_status(target.share(), run)
    if status == "succeeded":
        return execution
    if status == "resumable":  # saved a checkpoint and exited 0 (a launcher's choice)
        return replace(execution, status=ExecutionStatus.RESUMABLE, exit_code=ExitCode.RESUMABLE)
    if on_line is not None:
        on_line(
            LogNotice(
                f"{execution.name} ended, but run {run} did not succeed "
                f"(its status file says {status or 'nothing'})"
            )
        )
    return replace(execution, status=ExecutionStatus.FAILED)


_SINCE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """`90s`, `30m`, `1h`, `2d`, `1h30m` -> timedelta."""
    cleaned = text.strip().lower()
    parts = _SINCE.findall(cleaned)
    if not parts or _SINCE.sub("", cleaned).strip():
        raise UsageError(f"cannot read --since {text!r}", hint="use e.g. 30m, 1h, 2d or 1h30m")
    delta = timedelta()
    for number, unit in parts:
        delta += timedelta(**{_UNITS[unit]: int(number)})
    return delta
