"""Local executions of the fine-tuning job: `python -m training` on the share, under the supervisor.

State lives in `.ftk/local/executions/<name>/` (see `supervisor.py`), so `ps`, `logs` and `stop`
work from any shell. An execution is running while its runner or the runner's child (the trainer)
is alive, each known by pid and start time. A run has at most one live trainer: the trainer holds
the run's lock (`training.spec.runlock`) and this module refuses to start another while it is held.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli.errors import NotFoundError, UsageError
from cli.targets.base import Execution, ExecutionStatus, LogNotice
from cli.targets.local.share import LocalShare
from cli.targets.local.supervisor import POLL_S, Supervisor, read_json, write_json
from cli.targets.runs_on_share import is_resumable
from contract import env as ftk_env
from contract.commands import train_argv
from contract.exit_codes import ExitCode
from contract.layout import RunLayout
from training.spec import runlock

# (config file, workspace, the run's folder) -> argv
TrainCommand = Callable[[Path, Path, Path], list[str]]


def default_train_command(config: Path, workspace: Path, run_dir: Path) -> list[str]:
    return train_argv(sys.executable, config, workspace, run_dir)


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def split_line(raw: str) -> tuple[str, str]:
    """A state log line `<UTC ISO time>\\t<text>` -> (time, text)."""
    stamp, _, text = raw.rstrip("\n").partition("\t")
    return stamp, text


class LocalExecutions:
    """Start, list, stop and read executions; one instance per `LocalTarget`."""

    def __init__(
        self,
        supervisor: Supervisor,
        root: Path,
        share_root: Path,
        train_command: TrainCommand,
        model_cache: Callable[[], Path],
    ):
        self.supervisor = supervisor
        self.root = root
        self.share_root = share_root
        self._train_command = train_command
        self._model_cache = model_cache

    def start(self, run_id: str, env: Mapping[str, str] | None = None) -> Execution:
        layout = RunLayout(run_id)
        config = self.share_root / layout.config
        if not config.is_file():
            raise NotFoundError(
                f"run {run_id} has no config.yaml on the local share",
                hint="start it with `ftk --local run CONFIG.yaml`",
            )
        holder = runlock.holder(self.share_root / layout.folder)
        if holder is not None:
            raise UsageError(
                f"run {run_id} has a live trainer ({runlock.describe(holder)})",
                hint="wait for it to end, or stop it (`ftk --local ps`, `ftk --local stop NAME`)",
            )
        started = datetime.now(UTC)
        name = f"{run_id}-{started:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
        state = self.root / name
        child_env = {
            ftk_env.RUN_ID: run_id,
            ftk_env.WORKSPACE: str(self.share_root),
            ftk_env.MOUNT_PATH: str(self.share_root),
            ftk_env.MODEL_CACHE: str(self._model_cache()),
            **(env or {}),
        }
        argv = self._train_command(config, self.share_root, self.share_root / layout.folder)
        runner = self.supervisor.spawn(state, argv, child_env)
        meta = {"name": name, "run_id": run_id, **runner.record()}
        meta["started_at"] = started.isoformat()
        write_json(state / "meta.json", meta)
        return Execution(name, run_id, ExecutionStatus.RUNNING, started_at=started)

    def _load(self, state: Path) -> Execution | None:
        meta = read_json(state / "meta.json")
        if not meta:
            return None
        ended = read_json(state / "exit.json")
        stop_requested = (state / "stop_requested").exists()
        code = ended["exit_code"] if ended else None
        if ended is None:
            # A runner stopped before it could install its SIGTERM handler writes no exit.json.
            if self.supervisor.state_alive(state):
                status = ExecutionStatus.RUNNING
            elif stop_requested:
                status = ExecutionStatus.STOPPED
            elif self._ended_resumable(meta):
                status, code = ExecutionStatus.RESUMABLE, int(ExitCode.RESUMABLE)
            else:
                status = ExecutionStatus.FAILED
        elif stop_requested and code != 0:
            status = ExecutionStatus.STOPPED
        elif code == 0:
            status = ExecutionStatus.SUCCEEDED
        elif code == ExitCode.RESUMABLE:
            status = ExecutionStatus.RESUMABLE
        else:
            status = ExecutionStatus.FAILED
        return Execution(
            name=meta["name"],
            run_id=meta.get("run_id"),
            status=status,
            started_at=_parse_time(meta.get("started_at")),
            ended_at=_parse_time(ended.get("ended_at")) if ended else None,
            exit_code=code,
        )

    def _ended_resumable(self, meta: dict) -> bool:
        """A runner that vanished (killed) whose trainer then saved a checkpoint (Linux: the
        kernel's SIGTERM): the run says `resumable`, and this is the run's newest execution."""
        run_id = meta.get("run_id")
        if not is_resumable(LocalShare(self.share_root), run_id):
            return False
        others = (read_json(d / "meta.json") for d in self.root.iterdir() if d.is_dir())
        starts = [m.get("started_at") or "" for m in others if m and m.get("run_id") == run_id]
        return (meta.get("started_at") or "") >= max(starts, default="")

    def list(self) -> list[Execution]:
        if not self.root.is_dir():
            return []
        found = [e for d in self.root.iterdir() if d.is_dir() and (e := self._load(d))]
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(found, key=lambda e: e.started_at or epoch, reverse=True)

    def state(self, name: str) -> Path:
        state = self.root / name
        if "/" in name or name.startswith(".") or not (state / "meta.json").is_file():
            raise NotFoundError(f"no local execution named {name}", hint="list them with `ftk ps`")
        return state

    def get(self, name: str) -> Execution:
        execution = self._load(self.state(name))
        if execution is None:
            raise NotFoundError(f"no local execution named {name}", hint="list them with `ftk ps`")
        return execution

    def stop(self, name: str) -> None:
        state = self.state(name)
        execution = self.get(name)
        if execution.status.finished:
            raise UsageError(f"execution {name} already ended ({execution.status})")
        (state / "stop_requested").touch()
        self.supervisor.stop_state(state)

    def stream_logs(self, name: str, *, follow: bool, tail: int | None = None) -> Iterator[str]:
        log = self.state(name) / "log"
        while not log.exists():
            if not follow or self.get(name).status.finished:
                yield LogNotice(f"{name} has written no log yet")
                return
            time.sleep(POLL_S)
        with log.open("r", encoding="utf-8", errors="replace") as fh:
            first = fh.readlines()
            complete = [ln for ln in first if ln.endswith("\n")]
            pending = "".join(first[len(complete) :])
            for raw in complete[-tail:] if tail else complete:
                yield split_line(raw)[1]
            if not follow:
                return
            while True:
                finished = self.get(name).status.finished
                chunk = fh.read()
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split("\n")
                    for raw in lines:
                        yield split_line(raw)[1]
                elif finished:
                    return
                else:
                    time.sleep(POLL_S)

    def query_logs(
        self, name: str, *, since: timedelta | None, system: bool, tail: int | None = None
    ) -> Iterator[str]:
        """Timestamped history: console lines, or (`system`) the runner's events."""
        path = self.state(name) / ("events.log" if system else "log")
        none = LogNotice(f"no {'event' if system else 'log'} lines for {name} in that time")
        if not path.exists():
            return iter([none])
        cutoff = datetime.now(UTC) - since if since else None
        lines = []
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stamp, text = split_line(raw)
            with contextlib.suppress(ValueError):
                if cutoff and datetime.fromisoformat(stamp) < cutoff:
                    continue
            lines.append(f"{stamp}  {text}")
        return iter((lines[-tail:] if tail else lines) or [none])
