"""Sweeps: one ordinary run per point of a grid or of random samples, at most `parallel` at once.

The sweep's state lives on the share (`contract.layout.sweep_path`), so it outlives the CLI that
started it: any `ftk sweep status` reads it, refreshes the points' statuses, and starts pending
points while fewer than `parallel` are active (the sweep moves on only while some `ftk sweep`
command is driving it). Each point is a run like `ftk run` makes (own id, config, logs, adapter).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli.errors import NotFoundError, UsageError
from cli.ops.runs import check_run_id, new_run_id, start_run, validate_config
from cli.ops.sweep_space import Value, apply
from cli.targets.base import Execution, ExecutionStatus, Target
from contract import env as ftk_env
from contract import outputs as keys
from contract.layout import SWEEPS_DIR, sweep_path, sweep_stop_path

PENDING = "pending"
ACTIVE = (str(ExecutionStatus.QUEUED), str(ExecutionStatus.RUNNING))


@dataclass
class Point:
    run_id: str
    values: dict[str, Value]
    execution: str | None = None
    status: str = PENDING
    score: float | None = None  # `ftk eval` exact match of the fine-tuned model (0..1)
    eval_file_loss: float | None = None  # `ftk eval` mean loss of the fine-tuned model

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


@dataclass
class Sweep:
    name: str
    config_name: str
    config_text: str  # the base training YAML; each point sets its values on a copy
    parallel: int
    points: list[Point]
    eval_file: str | None = None
    stopped: bool = False
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def done(self) -> bool:
        return all(p.status != PENDING or self.stopped for p in self.points) and not any(
            p.active for p in self.points
        )

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Sweep:
        """The state as saved; ValueError naming what is wrong when it is not (hand-edited, cut
        short, written by something else)."""
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError) as e:
            raise ValueError(f"not JSON ({str(e)[:80]})") from None
        _check_fields(raw, _SWEEP_FIELDS, "the sweep")
        if not isinstance(raw["points"], list):
            raise ValueError("`points` must be a list")
        for i, p in enumerate(raw["points"]):
            _check_fields(p, _POINT_FIELDS, f"point {i + 1}")
        raw["points"] = [Point(**p) for p in raw["points"]]
        if raw["parallel"] < 1:
            raise ValueError("`parallel` must be at least 1")
        return cls(**raw)


_NUMBER = (int, float)
_SWEEP_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {  # field: (types, required)
    "name": ((str,), True),
    "config_name": ((str,), True),
    "config_text": ((str,), True),
    "parallel": ((int,), True),
    "points": ((list,), True),
    "eval_file": ((str, type(None)), False),
    "stopped": ((bool,), False),
    "created": ((str,), False),
}
_POINT_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "run_id": ((str,), True),
    "values": ((dict,), True),
    "execution": ((str, type(None)), False),
    "status": ((str,), False),
    "score": ((*_NUMBER, type(None)), False),
    "eval_file_loss": ((*_NUMBER, type(None)), False),
}


def _check_fields(raw: object, fields: dict[str, tuple[tuple[type, ...], bool]], what: str) -> None:
    if not isinstance(raw, dict):
        raise ValueError(f"{what} is not a JSON object")
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValueError(f"{what} has unknown field {unknown[0][:40]!r}")
    for key, (types, required) in fields.items():
        if key not in raw:
            if required:
                raise ValueError(f"{what} has no `{key}`")
            continue
        value = raw[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted, got = types[0].__name__, type(value).__name__
            raise ValueError(f"{what}'s `{key}` is a {got}, not a {wanted}")


def default_parallel(target: Target) -> int:
    """The stack's `maximumInstanceCount` (how many executions the job may run at once), else 1."""
    value = target.describe().get(keys.MAXIMUM_INSTANCE_COUNT)
    try:
        return max(int(value), 1) if value is not None else 1
    except (TypeError, ValueError):
        return 1


def within_gpu_quota(target: Target, parallel: int | None) -> tuple[int, list[str]]:
    """`parallel` (default: the stack's) capped by the serverless GPUs free now, and a warning
    when that cut it. Unknown quota (local, dedicated, unreadable): no cap."""
    wanted = parallel or default_parallel(target)
    room = target.gpu_room()
    if room is None or wanted <= room.free:
        return wanted, []
    allowed = max(room.free, 1)
    why = (
        "no GPU is free now: the first run waits for one"
        if room.free == 0
        else f"{room.free} GPU{'s are' if room.free != 1 else ' is'} free"
    )
    return allowed, [
        f"{allowed} run{'s' if allowed != 1 else ''} at once, not {wanted}: {why} "
        f"({room.evidence}); more runs would only queue for GPUs."
        + (f" Ask for more quota: {room.more}" if room.more else "")
    ]


def save(target: Target, sweep: Sweep) -> None:
    """Write the sweep's state. A stop is its own file (`sweep_stop_path`), which only `stop`
    writes: a driver that loaded the state before the stop cannot undo it by saving."""
    share = target.share()
    share.make_dirs(SWEEPS_DIR)
    sweep.stopped = sweep.stopped or stop_requested(target, sweep.name)
    share.write_bytes(sweep_path(sweep.name), sweep.to_bytes())


def stop_requested(target: Target, name: str) -> bool:
    """Whether `ftk sweep stop` was given for this sweep (read from the share, now)."""
    return target.share().exists(sweep_stop_path(name))


def load(target: Target, name: str) -> Sweep:
    check_run_id(name)
    share = target.share()
    path = sweep_path(name)
    try:
        data = share.read_bytes(path)
    except (FileNotFoundError, NotFoundError):
        raise NotFoundError(
            f"no sweep named {name}", hint="start one with `ftk sweep CONFIG --set KEY=V1,V2`"
        ) from None
    try:
        sweep = Sweep.from_bytes(data)
    except ValueError as e:
        raise UsageError(
            f"the state of sweep {name} ({path} on the share) is unreadable: {e}",
            hint="restore the file, or start the sweep again under a new --name",
        ) from None
    sweep.stopped = sweep.stopped or stop_requested(target, name)
    return sweep


def create(
    target: Target,
    project_dir: Path,
    config: Path,
    values: list[dict[str, Value]],
    *,
    name: str | None = None,
    parallel: int | None = None,
    eval_file: str | None = None,
) -> tuple[Sweep, list[str]]:
    """Check every point's config (nothing starts if one is wrong) and save the sweep's state."""
    if name is None:
        stem, day, time = new_run_id(config).rsplit("-", 2)
        name = f"{stem}-sweep-{day}-{time}"
    check_run_id(name)
    if target.share().exists(sweep_path(name)):
        raise UsageError(f"sweep {name} already exists", hint=f"see `ftk sweep status {name}`")
    text = config.read_text(encoding="utf-8")
    points = [Point(check_run_id(f"{name}-{i + 1:02d}"), v) for i, v in enumerate(values)]
    sweep = Sweep(name, config.name, text, parallel or default_parallel(target), points, eval_file)
    warnings: list[str] = []
    for point in points:
        with _point_config(sweep, point) as path:
            warnings += [f"{point.run_id}: {w}" for w in validate_config(path, project_dir)]
    save(target, sweep)
    return sweep, sorted(set(warnings))


class _point_config:
    """A temporary file holding one point's training YAML (start_run reads and validates it)."""

    def __init__(self, sweep: Sweep, point: Point):
        self._dir = tempfile.TemporaryDirectory(prefix="ftk-sweep-")
        self.path = Path(self._dir.name) / sweep.config_name
        self.path.write_text(apply(sweep.config_text, point.values), encoding="utf-8")

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()


def _newest_by_run(executions: list[Execution]) -> dict[str, Execution]:
    newest: dict[str, Execution] = {}
    for e in executions:  # newest first
        if e.run_id and e.run_id not in newest:
            newest[e.run_id] = e
    return newest


def refresh(target: Target, sweep: Sweep) -> None:
    """Each started point's status: its run's newest execution (else its own, by name)."""
    executions = target.executions()
    by_run, by_name = _newest_by_run(executions), {e.name: e for e in executions}
    for p in sweep.points:
        if p.execution is None:
            continue
        e = by_run.get(p.run_id) or by_name.get(p.execution)
        if e is not None:
            p.execution, p.status = e.name, str(e.status)


def advance(target: Target, sweep: Sweep, project_dir: Path) -> list[Point]:
    """Refresh, then start pending points while fewer than `parallel` are active; saves the
    state and returns the points started."""
    refresh(target, sweep)
    started: list[Point] = []
    free = sweep.parallel - sum(p.active for p in sweep.points)
    for point in [p for p in sweep.points if p.status == PENDING][: max(free, 0)]:
        if sweep.stopped or stop_requested(target, sweep.name):  # read now, not at load
            sweep.stopped = True
            break
        with _point_config(sweep, point) as path:
            run = start_run(
                target,
                project_dir,
                path,
                run_id=point.run_id,
                sync=False,
                env={ftk_env.SWEEP_ID: sweep.name},  # training.tracking tags the run with it
            )
        point.execution, point.status = run.execution.name, str(run.execution.status)
        started.append(point)
        save(target, sweep)  # a point is never started twice, even if the CLI dies now
        if sweep.stopped:  # the stop landed while this point started: `stop` may have read the
            target.stop_execution(point.execution)  # state before it was saved, so stop it here
            break
    save(target, sweep)
    return started


def stop(target: Target, sweep: Sweep) -> list[str]:
    """No more points start; every active one is stopped. Returns the executions stopped.

    The mark is written first and the state read after it: a driver starting a point either
    sees the mark after saving that point (and stops it itself) or saved it before this read."""
    share = target.share()
    share.make_dirs(SWEEPS_DIR)
    share.write_bytes(sweep_stop_path(sweep.name), b"stopped\n")
    sweep = load(target, sweep.name)
    refresh(target, sweep)
    names = [p.execution for p in sweep.points if p.active and p.execution]
    for name in names:
        target.stop_execution(name)
    return names


def drive(
    target: Target,
    sweep: Sweep,
    project_dir: Path,
    *,
    wait: Callable[[], None],
    on_start: Callable[[Point], None] | None = None,
) -> Sweep:
    """Advance until every point has ended (or the sweep was stopped); `wait` paces the polls."""
    while True:
        current = load(target, sweep.name)  # `ftk sweep stop` may have stopped it meanwhile
        for point in advance(target, current, project_dir):
            if on_start is not None:
                on_start(point)
        if current.done:
            return current
        wait()


def summary(target: Target, run_id: str) -> dict[str, Any]:
    """The run's summary.json (final train and eval loss), or {} while it has none."""
    from contract.layout import RunLayout

    share = target.share()
    path = RunLayout(run_id).summary
    try:
        return json.loads(share.read_bytes(path)) if share.exists(path) else {}
    except (ValueError, FileNotFoundError, NotFoundError):
        return {}
