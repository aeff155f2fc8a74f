"""`--local` runs and processes under faults: a runner killed with -9, a pid reused by an unrelated
process, a second trainer on a live run. Each test starts real processes (stand-ins for training
and serving) and checks what a user sees through `ftk`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cli.errors import ExitCode
from cli.targets.local import LocalTarget
from cli.targets.local.supervisor import ProcessId
from tests.cli.conftest import train_command
from training.spec import runlock

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


def test_a_trainer_that_outlived_its_runner_shows_running_and_stop_ends_it(
    project, local_target, invoke, unrelated
):
    # What macOS leaves after `kill -9` of a runner (no parent-death signal there): the runner is
    # gone, its trainer (here a stand-in known by pid and start time) still runs.
    trainer = ProcessId.of(unrelated.pid)
    assert trainer is not None
    dead_runner = _stale_record(2**22 + 4321)
    state = project / ".ftk/local/executions/r1-orphan"
    _write_state(state, {"name": "r1-orphan", "run_id": "r1", **dead_runner}, trainer.record())

    assert json.loads(invoke(local_target, ["ps", "--json"], project).stdout)[0]["status"] == (
        "running"
    )
    assert invoke(local_target, ["stop"], project).stdout.strip() == "r1-orphan"
    assert unrelated.wait(timeout=10) == -signal.SIGTERM
    assert local_target.get_execution("r1-orphan").status == "stopped"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_runner_killed_with_9_takes_its_trainer_along_then_resume_runs_one(
    project, tmp_path, invoke
):
    waiting = LocalTarget(project, train_command=train_command("wait"), model_cache=tmp_path)
    started = invoke(waiting, ["run", _cfg(project), "--run-id", "r1"], project)
    assert started.exit_code == 0, started.output
    name = started.stdout.strip()
    trainer_pid = None
    for line in waiting.stream_logs(name, follow=True):
        if line.startswith("pid "):
            trainer_pid = int(line.split()[1])
        if line == "waiting for a signal":
            break
    assert trainer_pid is not None
    meta = project / f".ftk/local/executions/{name}/meta.json"
    runner_pid = json.loads(meta.read_text())["pid"]

    os.kill(runner_pid, signal.SIGKILL)
    try:
        assert _gone(trainer_pid), "the trainer outlived its runner"
    finally:
        if not _gone(trainer_pid, timeout=0):
            os.kill(trainer_pid, signal.SIGKILL)
    # The trainer saved and said so in the run's status; nobody was left to record its exit.
    rows = json.loads(invoke(waiting, ["ps", "--json"], project).stdout)
    assert [(r["name"], r["status"]) for r in rows] == [(name, "resumable")]

    finishing = LocalTarget(project, train_command=train_command("succeed"), model_cache=tmp_path)
    resumed = invoke(finishing, ["resume", "r1", "-f"], project)
    assert resumed.exit_code == 0, resumed.output
    assert [e.status for e in finishing.executions()] == ["succeeded", "failed"]
    waiting.close()


def test_run_and_resume_refuse_while_a_live_trainer_holds_the_run(project, local_target, invoke):
    failing = invoke(
        LocalTarget(project, train_command=train_command("fail"), model_cache=project),
        ["run", _cfg(project), "--run-id", "r1", "-f"],
        project,
    )
    assert failing.exit_code == ExitCode.FAILED
    run_folder = project / ".ftk/local/share/runs/r1"

    with runlock.hold(run_folder):  # this process stands in for a trainer nobody tracks
        refused = invoke(local_target, ["resume", "r1"], project)
        assert refused.exit_code == ExitCode.USAGE
        assert f"run r1 has a live trainer (pid {os.getpid()})" in refused.stderr
        assert len(local_target.executions()) == 1  # nothing started

    resumed = invoke(local_target, ["resume", "r1", "-f"], project)
    assert resumed.exit_code == 0, resumed.output


def test_a_second_trainer_on_a_live_run_exits_before_touching_it(project):
    run_folder = project / "runs" / "r1"
    run_folder.mkdir(parents=True)
    config = run_folder / "config.yaml"
    config.write_text((project / "finetuning" / "tiny.yaml").read_text())
    (run_folder / "status").write_text("running\n")

    with runlock.hold(run_folder):
        second = subprocess.run(
            [sys.executable, "-m", "training", "--config", str(config), "--workspace", project],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert second.returncode == 1, second.stderr
    assert f"in use by another trainer (pid {os.getpid()})" in second.stderr
    assert (run_folder / "status").read_text() == "running\n"  # the live trainer's, untouched


def test_process_identity_off_linux_goes_through_psutil(monkeypatch, unrelated):
    # macOS's branch, run here: the kernel's start time via psutil, stable for one process.
    from cli.targets.local import supervisor

    monkeypatch.setattr(supervisor.sys, "platform", "darwin")
    me = ProcessId.of(unrelated.pid)
    assert me is not None and me.is_alive() and me.start != ProcessId.of(os.getpid()).start
    unrelated.kill()
    unrelated.wait()
    assert not me.is_alive() and ProcessId.of(unrelated.pid) is None
