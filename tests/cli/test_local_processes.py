"""`--local` runs and processes under faults: a pid reused by an unrelated process. Each test
starts real processes and checks what a user sees through `ftk`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cli.errors import ExitCode

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _cfg(project: Path) -> str:
    return str(project / "finetuning" / "tiny.yaml")


def _gone(pid: int, timeout: float = 10.0) -> bool:
    """True once `pid` has ended (a zombie counts as ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def unrelated() -> Iterator[subprocess.Popen]:
    """A process that is none of ftk's, leading its own process group (as a daemon would)."""
    proc = subprocess.Popen(SLEEPER, start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def _write_state(folder: Path, meta: dict, child: dict | None = None) -> None:
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps(meta))
    if child is not None:
        (folder / "child.json").write_text(json.dumps(child))


def _stale_record(pid: int) -> dict:
    """What ftk stored for a process that has ended and whose pid went to `pid`: same number,
    another start time."""
    return {"pid": pid, "start": "1"}


def test_ps_and_stop_ignore_an_unrelated_process_that_reused_the_runner_pid(
    project, local_target, invoke, unrelated
):
    state = project / ".ftk/local/executions/r1-old"
    _write_state(state, {"name": "r1-old", "run_id": "r1", **_stale_record(unrelated.pid)})

    rows = json.loads(invoke(local_target, ["ps", "--json"], project).stdout)
    assert [r["status"] for r in rows] == ["failed"]
    named = invoke(local_target, ["stop", "r1-old"], project)
    assert named.exit_code == ExitCode.USAGE and "already ended" in named.stderr
    assert invoke(local_target, ["stop"], project).exit_code == ExitCode.NOT_FOUND
    assert unrelated.poll() is None  # never signalled


def test_endpoint_stop_ignores_an_unrelated_process_that_reused_the_server_pid(
    project, local_target, invoke, unrelated
):
    meta = {"url": "http://127.0.0.1:9", "model": "m", **_stale_record(unrelated.pid)}
    _write_state(project / ".ftk/local/endpoint", meta)

    stopped = invoke(local_target, ["endpoint", "--stop"], project)
    assert stopped.exit_code == ExitCode.NOT_FOUND
    shown = invoke(local_target, ["endpoint", "--json"], project)
    assert json.loads(shown.stdout)["ready"] is False
    assert unrelated.poll() is None
