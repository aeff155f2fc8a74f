"""Runs that finish by themselves: follow an execution and, when it ends `resumable` (its time
budget or a SIGTERM), start the next execution of the same run, up to a number of restarts.

Only `resumable` is restarted. A failed execution is not (a crash repeats; ACA's own
`replicaRetryLimit` already retries failed replicas inside one execution, docs/azure.md), and a
stopped one is not (a person stopped it). Each execution's log is streamed once, from its start,
so no line is shown twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cli.ops.executions import follow
from cli.ops.runs import RunStart, resume_run
from cli.targets.base import Execution, ExecutionStatus, LogNotice, Target

DEFAULT_MAX_RESTARTS = 10


@dataclass
class UntilDone:
    """Every execution the run went through, in order; the last one is how it ended."""

    executions: list[Execution] = field(default_factory=list)
    restarts: list[RunStart] = field(default_factory=list)

    @property
    def final(self) -> Execution:
        return self.executions[-1]


def follow_until_done(
    target: Target,
    execution: Execution,
    on_line: Callable[[str], None],
    *,
    max_restarts: int = DEFAULT_MAX_RESTARTS,
    on_restart: Callable[[RunStart], None] | None = None,
    settle_s: float = 60.0,
) -> UntilDone:
    """Follow `execution`'s run: each of its own executions in turn (never another execution
    that happens to train it), restarting it while it ends resumable, at most `max_restarts`
    times."""
    done = UntilDone()
    run_id = execution.run_id
    while True:
        final = follow(target, execution.name, on_line, settle_s=settle_s, run_id=run_id)
        done.executions.append(final)
        run_id = run_id or final.run_id
        if final.status != ExecutionStatus.RESUMABLE or run_id is None:
            return done
        if len(done.restarts) >= max_restarts:
            on_line(LogNotice(f"{final.name} ended resumable; --max-restarts {max_restarts} used"))
            return done
        n = len(done.restarts) + 1
        on_line(
            LogNotice(f"{final.name} ended resumable; restarting run {run_id} ({n}/{max_restarts})")
        )
        started = resume_run(target, run_id)
        done.restarts.append(started)
        if on_restart is not None:
            on_restart(started)
        execution = started.execution
