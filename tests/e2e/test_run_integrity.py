"""A run request belongs to its execution (issue 20, findings 1-3 and 7), on the Azure fakes.

Each execution's replica runs the job's own entry point (`python -m training claim`, the real
code) on the fake share (`testkit.fakes.azure.play_replicas`); `ftk` runs through Click against
the fake ARM and Azure Files with the real SDK clients.
"""

from __future__ import annotations

import errno
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.main import cli
from contract import env as ftk_env
from contract.commands import JOB_COMMANDS
from contract.layout import CLAIMS_DIR
from contract.requests import request_path
from testkit.fakes.azure import FakeAzure, play_replicas, run_replica, target_from_outputs
from tests.cli.conftest import write_project


@pytest.fixture
def ftk(fake_azure: FakeAzure, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`ftk ARGS` for a Pulumi stack's target whose clients point at the fake."""
    project = write_project(tmp_path / "proj")
    target = target_from_outputs(fake_azure.outputs(), connection=fake_azure.connection())
    app = App.with_target(target, project)

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args), obj=app)

    return run


def _trainer(outcomes: dict[str, str]):  # type: ignore[no-untyped-def]
    """`python -m training` on the replica: prints its run's lines, leaves the run's status."""

    def train(run_id: str, workspace: Path) -> tuple[list[str], int]:
        outcome = outcomes.get(run_id, "succeeded")
        status = workspace / "runs" / run_id / "status"
        status.parent.mkdir(parents=True, exist_ok=True)
        status.write_text(outcome + "\n")
        lines = [f"{run_id}: step 1 loss 2.0", f"{run_id}: step 2 loss 1.5", f"{run_id}: {outcome}"]
        return lines, 0 if outcome == "succeeded" else 1

    return train


def _started(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["execution"]


def test_stale_request_is_not_trained_by_the_next_run(ftk, fake_azure: FakeAzure):
    """Run A's execution dies before its replica claims (an image pull failure); run B's
    execution trains B, not A's leftover request; `ftk resume A` then works."""
    play_replicas(fake_azure, _trainer({}))
    a = _started(ftk("run", "finetuning/tiny.yaml", "--run-id", "run-a", "--json"))
    dead = fake_azure.arm.execution(a)
    dead.status, dead.replica_started = "Failed", True  # never got a replica

    b = ftk("run", "finetuning/tiny.yaml", "--run-id", "run-b", "--no-sync", "-f")
    assert b.exit_code == 0, b.output
    assert "run-b: step 1" in b.stdout and "run-a" not in b.stdout

    again = ftk("resume", "run-a", "-f")
    assert again.exit_code == 0, again.output
    assert "run-a: step 2 loss 1.5" in again.stdout
    rows = {r["name"]: (r["run_id"], r["status"]) for r in json.loads(ftk("ps", "--json").stdout)}
    assert rows[a] == ("run-a", "failed")
    assert sorted(rows.values()) == [
        ("run-a", "failed"),
        ("run-a", "succeeded"),
        ("run-b", "succeeded"),
    ]


def test_follow_tracks_the_run_not_the_execution(ftk, fake_azure: FakeAzure):
    """Two quick runs whose replicas start in the other order: each follow prints its own
    run's lines and ends with its own run's outcome (A fails, B succeeds)."""
    play_replicas(fake_azure, _trainer({"run-a": "failed"}))
    a = _started(ftk("run", "finetuning/tiny.yaml", "--run-id", "run-a", "--json"))

    b = ftk("run", "finetuning/tiny.yaml", "--run-id", "run-b", "--no-sync", "-f")
    assert b.exit_code == 0, b.output  # B's replica started first
    assert "run-b: succeeded" in b.stdout and "run-a" not in b.stdout

    followed = ftk("logs", a, "-f")  # the reattach `ftk run` prints for A
    assert followed.exit_code == 1, followed.output
    assert "run-a: step 1" in followed.stdout and "run-b" not in followed.stdout
    assert "ftk resume run-a" not in followed.stderr or "failed" in followed.stderr


def test_follow_does_not_report_success_for_an_execution_that_trained_nothing(
    ftk, fake_azure: FakeAzure
):
    """An execution that exits 0 without training its run is not the run's success."""
    a = _started(ftk("run", "finetuning/tiny.yaml", "--run-id", "run-a", "--json"))
    fake_azure.arm.execution(a).lines = ["nothing to do"]  # exits 0 (drained), no status file
    followed = ftk("logs", a, "-f")
    assert followed.exit_code == 1, followed.output
    assert "run run-a did not succeed" in followed.stderr


def test_portal_execution_takes_no_request(ftk, fake_azure: FakeAzure):
    """An execution started without `ftk run` (the portal) trains nothing and says so; the
    request waiting for ftk's own execution stays for it."""
    a = _started(ftk("run", "finetuning/tiny.yaml", "--run-id", "run-a", "--json"))
    portal = fake_azure.arm.start_execution()

    lines, code = run_replica(fake_azure, portal.name, _trainer({}))
    assert code != 0
    assert lines == [line for line in lines if "run-a" not in line]
    assert any(f"{portal.name} has no run request of its own" in line for line in lines)
    assert fake_azure.files.paths("ftk").count(request_path(a)) == 1

    lines, code = run_replica(fake_azure, a, _trainer({}))
    assert code == 0 and "run-a: succeeded" in lines


def test_racing_claims_never_crash(tmp_path: Path, monkeypatch, capsys):
    """Many executions start at once on one share (a sweep); on SMB a contested file fails with
    any OSError (sharing violation, stale handle, access denied), never only
    FileNotFoundError. Every execution trains its own run once, or none, and none crashes."""
    import pathlib

    import training.claim
    import training.cli

    runs = {f"job-{i:02d}": f"run-{i:02d}" for i in range(16)}
    for execution, run_id in runs.items():
        path = tmp_path / request_path(execution)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"run_id": run_id, "execution": execution}))
    portal = [f"portal-{i}" for i in range(8)]

    touched: dict[str, set[int]] = {}
    lock = threading.Lock()
    errors = [
        PermissionError(errno.EACCES, "Permission denied"),
        OSError(errno.ESTALE, "Stale file handle"),
        OSError(errno.EBUSY, "Device or resource busy"),
        OSError(errno.EIO, "Input/output error"),
    ]
    rng = random.Random(20)

    def contested(path: object) -> None:
        """The second thread to touch a path on the share meets an SMB error."""
        key = os.fspath(path)  # type: ignore[arg-type]
        if not key.startswith(str(tmp_path)):
            return
        with lock:
            seen = touched.setdefault(key, set())
            seen.add(threading.get_ident())
            clash = len(seen) > 1
            error = rng.choice(errors)
        if clash:
            raise error

    def wrap(original):  # type: ignore[no-untyped-def]
        def call(path, *args, **kwargs):  # type: ignore[no-untyped-def]
            contested(path)
            return original(path, *args, **kwargs)

        return call

    monkeypatch.setattr(os, "open", wrap(os.open))
    monkeypatch.setattr(os, "rename", wrap(os.rename))
    monkeypatch.setattr(os, "replace", wrap(os.replace))
    monkeypatch.setattr(os, "mkdir", wrap(os.mkdir))
    monkeypatch.setattr(pathlib.Path, "read_bytes", wrap(pathlib.Path.read_bytes))
    monkeypatch.setattr(training.claim, "REQUEST_WAIT_SECONDS", 0.0, raising=False)

    trained: dict[str, str] = {}

    def fake_train(config: Path, workspace: Path, **_: object) -> int:
        return 0

    monkeypatch.setattr(training.cli, "train", fake_train)
    outcome: dict[str, object] = {}
    start = threading.Barrier(len(runs) + len(portal))

    def execution(name: str) -> None:
        start.wait()
        try:
            argv = ["claim", "--workspace", str(tmp_path), "--execution", name]
            outcome[name] = training.cli.run(argv)
        except BaseException as exc:  # a crashed replica
            outcome[name] = exc

    threads = [threading.Thread(target=execution, args=(n,)) for n in [*runs, *portal]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    crashed = {n: o for n, o in outcome.items() if isinstance(o, BaseException)}
    assert crashed == {}
    for line in capsys.readouterr().out.splitlines():
        if " trains run " in line:
            name, run_id = line.split("execution ", 1)[1].split(" trains run ")
            assert name not in trained, f"{name} trained twice"
            trained[name] = run_id
    assert trained == runs  # each its own, none another's
    assert all(outcome[n] == 0 for n in runs)
    assert all(outcome[n] != 0 for n in portal)  # no request of their own: they fail loudly
    assert not (tmp_path / CLAIMS_DIR / "portal-0.json").exists()


def test_deadline_counts_from_container_start(tmp_path: Path):
    """A first install that took 500 s of a 600 s budget leaves 100 s to train, not 600."""
    script = JOB_COMMANDS[0] + f'\necho "${ftk_env.CONTAINER_STARTED_AT}"'
    recorded = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    assert abs(float(recorded) - time.time()) < 30  # the script's first step records the start
    install = next(i for i, c in enumerate(JOB_COMMANDS) if "bootstrap env" in c)
    recorder = next(i for i, c in enumerate(JOB_COMMANDS) if ftk_env.CONTAINER_STARTED_AT in c)
    assert recorder < install

    path = tmp_path / request_path("job-slow")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"run_id": "r1", "execution": "job-slow"}))
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "config.yaml").write_text(
        "model:\n  name: model\ndata:\n  train_file: data/train.jsonl\n"
    )
    # `python -m training claim` as the job runs it, with the trainer replaced by one that
    # prints how much of its budget is left when it starts.
    code = (
        "import runpy, sys, time, types\n"
        "def main(config, *, workspace, run_dir, deadline, started_at):\n"
        "    print('LEFT', started_at + deadline - time.monotonic()); return 0\n"
        "sys.modules['training.train'] = types.SimpleNamespace(main=main)\n"
        f"sys.argv = ['training', 'claim', '--workspace', {str(tmp_path)!r}]\n"
        "runpy.run_module('training', run_name='__main__', alter_sys=True)\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        ftk_env.TIME_BUDGET: "600",
        ftk_env.CONTAINER_STARTED_AT: str(time.time() - 500),
        ftk_env.EXECUTION_NAME: "job-slow",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [left] = [float(line.split()[1]) for line in done.stdout.splitlines() if line[:4] == "LEFT"]
    assert 60 < left <= 100


def test_data_parallel_workers_do_not_count_the_install_twice(tmp_path: Path, monkeypatch):
    """The launcher hands its workers what is left of the budget; they count it from their own
    start, not again from the container's."""
    import training.distributed as distributed

    seen: dict[str, str] = {}

    class Proc:
        def __init__(self, argv: list[str], env: dict[str, str]) -> None:
            seen.update(env)

        def wait(self) -> int:
            return 0

        def send_signal(self, signum: int) -> None:
            raise AssertionError("not signalled here")

    monkeypatch.setattr(distributed.subprocess, "Popen", Proc)
    monkeypatch.setenv(ftk_env.CONTAINER_STARTED_AT, str(time.time() - 500))
    distributed.launch(2, ["--deadline", "100"], tmp_path / "status")
    assert ftk_env.CONTAINER_STARTED_AT not in seen
    assert os.environ[ftk_env.CONTAINER_STARTED_AT]  # the launcher's own is untouched
