"""`python -m training claim`: an Azure execution takes its own run request, or none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contract.layout import CLAIMS_DIR, REQUESTS_DIR
from contract.requests import RunRequest, request_path
from training import claim as claim_module
from training.claim import NoRequest, claim

ROOT = Path(__file__).resolve().parents[2]


def _request(workspace: Path, execution: str, run_id: str, env: dict | None = None) -> Path:
    path = workspace / request_path(execution)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(RunRequest(run_id, env or {}, execution=execution).to_bytes())
    return path


def test_an_execution_takes_its_own_request_and_a_retried_replica_takes_it_again(tmp_path: Path):
    _request(tmp_path, "job-aaa", "r1")
    _request(tmp_path, "job-bbb", "r2")
    assert claim(tmp_path, "job-bbb").run_id == "r2"  # not the oldest: its own
    assert (tmp_path / CLAIMS_DIR / "job-bbb.json").is_file()
    assert claim(tmp_path, "job-bbb").run_id == "r2"  # same execution, a retried replica
    assert claim(tmp_path, "job-aaa").run_id == "r1"
    assert claim(tmp_path, "job-ccc") is None  # nothing of its own: it takes nobody's


def test_an_execution_waits_for_a_request_written_after_it_started(tmp_path: Path):
    """`ftk run` writes the request once the start call returns; a replica may start first."""
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        if now[0] >= 15:
            _request(tmp_path, "job-late", "r-late")

    request = claim(tmp_path, "job-late", wait_s=60, poll_s=5, clock=lambda: now[0], sleep=sleep)
    assert request is not None and request.run_id == "r-late"
    assert slept == [5, 5, 5]


def test_waiting_is_bounded(tmp_path: Path):
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    assert claim(tmp_path, "job-x", wait_s=12, poll_s=5, clock=lambda: now[0], sleep=sleep) is None
    assert now[0] == 12


def test_no_request_of_its_own_fails_with_one_line(tmp_path: Path):
    """An execution started from the portal: it says so and fails (nothing to train)."""
    _request(tmp_path, "someone-elses", "r1")
    done = subprocess.run(
        [sys.executable, "-m", "training", "claim", "--workspace", str(tmp_path), "--wait", "0"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "CONTAINER_APP_JOB_EXECUTION_NAME": "job-x1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and "job-x1 has no run request of its own" in lines[0]
    assert (tmp_path / request_path("someone-elses")).is_file()  # untouched


def test_claiming_trains_that_run_in_its_own_folder(tmp_path: Path, monkeypatch):
    _request(tmp_path, "job-r7", "r7", env={"EXTRA": "1"})
    calls = []

    def fake_train(config: Path, workspace: Path, *, run_dir: Path, started_at=None) -> int:
        import os

        calls.append((config, workspace, run_dir, os.environ["FTK_RUN_ID"], os.environ["EXTRA"]))
        return 75

    import training.cli

    monkeypatch.setattr(training.cli, "train", fake_train)
    monkeypatch.setenv("CONTAINER_APP_JOB_EXECUTION_NAME", "job-r7")
    # setenv, not delenv: monkeypatch then removes what claiming sets in os.environ, which a
    # later test in the same worker would otherwise inherit (a run id it never asked for).
    monkeypatch.setenv("FTK_RUN_ID", "")
    monkeypatch.setenv("EXTRA", "")
    assert training.cli.run(["claim", "--workspace", str(tmp_path)]) == 75
    [(config, workspace, run_dir, run_id, extra)] = calls
    assert config == tmp_path / "runs/r7/config.yaml" and workspace == tmp_path
    assert run_dir == tmp_path / "runs/r7"  # the run's own folder, handed over explicitly
    assert run_id == "r7" and extra == "1"


def test_the_claim_module_imports_no_torch():
    code = "import sys, training.claim; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_without_an_execution_name_it_says_where_it_runs(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.delenv("CONTAINER_APP_JOB_EXECUTION_NAME", raising=False)
    assert claim_module.take(["--workspace", str(tmp_path)]) == 2
    assert "CONTAINER_APP_JOB_EXECUTION_NAME is not set" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["../runs/x", "a/b", ""])
def test_an_execution_name_is_never_a_path(tmp_path: Path, name: str):
    with pytest.raises(ValueError):
        claim(tmp_path, name)


BROKEN = [
    b"{not json",
    b"[]",
    b'{"env": {}}',
    b'{"run_id": "r", "env": 1}',
    b'{"run_id": "r1", "env": "x"}',  # crashed `claim` and stayed as the execution's claim
    b'{"run_id": "r1", "env": ["A=1"]}',
    b'{"run_id": "r1", "env": {"A": 1}}',
    b'{"run_id": "r1", "env": {"A=B": "1"}}',
    b'{"run_id": "r1", "env": {"A": "a\\u0000b"}}',
    b'{"run_id": "r1", "requested_at": 5}',
    b'{"run_id": "r1\\n"}',
    b'{"run_id": "../../etc"}',
    b"[" * 100_000,
]


@pytest.mark.parametrize("data", BROKEN)
def test_a_broken_request_fails_the_execution_and_is_kept(tmp_path: Path, data: bytes, capsys):
    folder = tmp_path / REQUESTS_DIR
    folder.mkdir(parents=True)
    (folder / "job-1.json").write_bytes(data)
    with pytest.raises(NoRequest):
        claim(tmp_path, "job-1")
    code = claim_module.take(["--workspace", str(tmp_path), "--execution", "job-1", "--wait", "0"])
    assert code == 2
    assert "is not a run request" in capsys.readouterr().out
    assert (folder / "job-1.json").read_bytes() == data  # kept for a person to read


def test_a_request_with_a_wrong_env_fails_the_real_process_in_one_line_every_retry(tmp_path: Path):
    folder = tmp_path / REQUESTS_DIR
    folder.mkdir(parents=True)
    (folder / "job-1.json").write_bytes(b'{"run_id": "r1", "env": "x"}')
    args = [sys.executable, "-m", "training", "claim", "--workspace", str(tmp_path)]
    for _ in range(2):  # the execution's retry, too
        done = subprocess.run(
            [*args, "--execution", "job-1", "--wait", "0"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and "is not a run request" in done.stdout
    assert not (tmp_path / CLAIMS_DIR / "job-1.json").exists()


@pytest.mark.parametrize(
    "data",
    [b'{"run_id": "r1", "env": "x"}', b'{"run_id": "r1", "env": {"A": 1}}', b'{"run_id": 3}'],
)
def test_the_request_reader_refuses_wrong_fields_with_value_error_only(data: bytes):
    with pytest.raises(ValueError, match="not a run request"):
        RunRequest.from_bytes(data)
