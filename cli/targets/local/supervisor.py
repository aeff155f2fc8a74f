"""One supervisor for the local target's detached processes: executions and the inference server.

Each process runs under `runner.py` in its own session and process group, with a state folder:
`meta.json` (written at spawn: what it is, and its `ProcessId`), `log`, `events.log`, `child.json`
(the runner's child, see `runner.py`), `exit.json` (how it ended) and `stop_requested`. Any shell
can read them; only the shell that spawned a process holds its `Popen` and reaps it (`close()`).

A stored pid alone proves nothing: once a process ends, the system may give its pid to an
unrelated one. So a process is known by its pid *and* its start time (`ProcessId`), recorded at
spawn and compared before every liveness verdict and before every signal.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contract import env as ftk_env

RUNNER = Path(__file__).with_name("runner.py")
POLL_S = 0.2


def read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def start_token(pid: int) -> str | None:
    """When process `pid` started, as an opaque token; None if no such process is alive.

    Linux: field 22 of /proc/<pid>/stat (clock ticks from boot to the process's fork; it never
    changes, unlike an epoch time derived from it, which moves when the clock is set). Elsewhere
    (macOS): psutil's create_time, which reads the start time the kernel keeps in the process
    table (kinfo_proc p_starttime, microseconds). A zombie counts as ended.
    """
    if pid <= 0:
        return None
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2 :].split()  # comm, in parentheses, may hold spaces
        return None if fields[0] in ("Z", "X") else fields[19]  # fields[0] is field 3, state
    import psutil

    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else repr(proc.create_time())
    except psutil.Error:
        return None


@dataclass(frozen=True)
class ProcessId:
    """A process as it was at spawn: its pid, and when it started."""

    pid: int
    start: str

    @classmethod
    def of(cls, pid: int) -> ProcessId | None:
        token = start_token(pid)
        return None if token is None else cls(pid, token)

    @classmethod
    def from_record(cls, data: Mapping[str, object] | None) -> ProcessId | None:
        """From a state file's `pid` and `start`; None when either is missing (an older ftk
        wrote no start time: such a record is never trusted, so never signalled)."""
        pid, start = (data or {}).get("pid"), (data or {}).get("start")
        if not isinstance(pid, int) or not isinstance(start, str):
            return None
        return cls(pid, start)

    def record(self) -> dict[str, object]:
        return {"pid": self.pid, "start": self.start}

    def is_alive(self) -> bool:
        """Alive and still the same process (not another one that got the pid later)."""
        return start_token(self.pid) == self.start


class Supervisor:
    """Spawns detached processes under the runner, and answers for them from any shell."""

    def __init__(self, cwd: Path):
        self.cwd = cwd
        self._children: dict[int, subprocess.Popen] = {}

    def spawn(self, state: Path, argv: list[str], env: Mapping[str, str]) -> ProcessId:
        """Start `argv` under the runner, detached: it survives this shell and Ctrl-C."""
        state.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, **env, ftk_env.PYTHONUNBUFFERED: "1"}
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER), str(state), "--", *argv],
            cwd=self.cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own group: `stop` signals the runner and its child
        )
        self._children[proc.pid] = proc
        # The child exists (forked) and cannot have been reaped: its start time is readable.
        return ProcessId(proc.pid, start_token(proc.pid) or "")

    def alive(self, proc: ProcessId | None) -> bool:
        if proc is None:
            return False
        child = self._children.get(proc.pid)
        if child is not None and child.poll() is not None:
            return False  # our own child ended: poll reaped it, so no zombie lingers
        return proc.is_alive()

    def terminate(self, proc: ProcessId | None) -> bool:
        """SIGTERM to the process group of `proc`, if `proc` is still that process."""
        if not self.alive(proc):
            return False
        assert proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(proc.pid), signal.SIGTERM)
            return True
        return False

    def _recorded(self, state: Path) -> tuple[ProcessId | None, ProcessId | None]:
        """The runner (`meta.json`) and the process it started (`child.json`) of a state folder."""
        return (
            ProcessId.from_record(read_json(state / "meta.json")),
            ProcessId.from_record(read_json(state / "child.json")),
        )

    def state_alive(self, state: Path) -> bool:
        """The runner lives, or its child outlived it (macOS: no parent-death signal)."""
        return any(self.alive(proc) for proc in self._recorded(state))

    def stop_state(self, state: Path, timeout: float = 0.0) -> bool:
        """SIGTERM to the runner's group (the child is in it); to the child's if the runner is
        gone. With `timeout`, wait that long for both to end. False if nothing was alive."""
        runner, child = self._recorded(state)
        if not (self.terminate(runner) or self.terminate(child)):
            return False
        if timeout:
            self.wait_gone(runner, timeout)
            self.wait_gone(child, timeout)
        return True

    def wait_gone(self, proc: ProcessId | None, timeout: float) -> bool:
        """Wait until `proc` has ended; False if it still runs after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.alive(proc):
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)
        return True

    def close(self) -> None:
        """Reap the children of this shell that have ended; the others keep running detached."""
        for pid, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[pid]
