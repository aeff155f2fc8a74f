"""`python -m training claim`: an Azure execution takes exactly one run request, or none."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from contract.layout import CLAIMS_DIR, REQUESTS_DIR
from contract.requests import RunRequest, new_request_id
from training import claim as claim_module
from training.claim import claim

ROOT = Path(__file__).resolve().parents[2]


def _request(workspace: Path, run_id: str, env: dict[str, str] | None = None) -> Path:
    folder = workspace / REQUESTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{new_request_id()}.json"
    path.write_bytes(RunRequest(run_id, env or {}).to_bytes())
    return path


def test_the_oldest_request_is_claimed_and_a_retried_replica_keeps_its_claim(tmp_path: Path):
    _request(tmp_path, "r1")
    _request(tmp_path, "r2")
    assert claim(tmp_path, "job-aaa").run_id == "r1"
    assert (tmp_path / CLAIMS_DIR / "job-aaa.json").is_file()
    assert claim(tmp_path, "job-aaa").run_id == "r1"  # same execution, a retried replica
    assert claim(tmp_path, "job-bbb").run_id == "r2"
    assert claim(tmp_path, "job-ccc") is None
    assert list((tmp_path / REQUESTS_DIR).iterdir()) == []


def test_racing_executions_each_take_a_different_request(tmp_path: Path):
    runs = [f"r{i}" for i in range(12)]
    for run in runs:
        _request(tmp_path, run)
    start = threading.Barrier(24)
    taken: dict[str, str | None] = {}

    def execution(name: str) -> None:
        start.wait()
        request = claim(tmp_path, name)
        taken[name] = request.run_id if request else None

    threads = [threading.Thread(target=execution, args=(f"job-{i}",)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [run for run in taken.values() if run is not None]
    assert sorted(claimed) == sorted(runs)  # every run once, none twice
    assert list(taken.values()).count(None) == 12


def test_nothing_to_claim_exits_0_with_one_line(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "training", "claim", "--workspace", str(tmp_path)],
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
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and "job-x1 found no pending run request" in lines[0]


def test_claiming_trains_that_run_without_importing_torch_first(tmp_path: Path, monkeypatch):
    _request(tmp_path, "r7", env={"EXTRA": "1"})
    calls = []

    def fake_run(argv: list[str], started_at: float | None = None) -> int:
        import os

        calls.append((argv, os.environ["FTK_RUN_ID"], os.environ["EXTRA"], "torch" in sys.modules))
        return 75

    import training.cli

    monkeypatch.setattr(training.cli, "run", fake_run)
    monkeypatch.setenv("CONTAINER_APP_JOB_EXECUTION_NAME", "job-r7")
    monkeypatch.delenv("FTK_RUN_ID", raising=False)
    assert claim_module.main(["--workspace", str(tmp_path)]) == 75
    [(argv, run_id, extra, _)] = calls
    assert argv == ["--config", str(tmp_path / "runs/r7/config.yaml"), "--workspace", str(tmp_path)]
    assert run_id == "r7" and extra == "1"


def test_the_claim_module_imports_no_torch():
    code = "import sys, training.claim; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_without_an_execution_name_it_says_where_it_runs(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.delenv("CONTAINER_APP_JOB_EXECUTION_NAME", raising=False)
    assert claim_module.main(["--workspace", str(tmp_path)]) == 2
    assert "CONTAINER_APP_JOB_EXECUTION_NAME is not set" in capsys.readouterr().err


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b"[]",
        b'{"env": {}}',
        b'{"run_id": "r1", "env": "x"}',  # crashed `claim` and stayed as the execution's claim
        b'{"run_id": "r1", "env": ["A=1"]}',
        b'{"run_id": "r1", "env": {"A": 1}}',
        b'{"run_id": "r1", "env": {"A=B": "1"}}',
        b'{"run_id": "r1", "env": {"A": "a\\u0000b"}}',
        b'{"run_id": "r1", "requested_at": 5}',
        b'{"run_id": "r1\\n"}',
        b'{"run_id": "../../etc"}',
        b"[" * 100_000,
    ],
)
def test_a_broken_request_is_set_aside(tmp_path: Path, data: bytes):
    folder = tmp_path / REQUESTS_DIR
    folder.mkdir(parents=True)
    (folder / "0-bad.json").write_bytes(data)
    _request(tmp_path, "good")
    assert claim(tmp_path, "job-1").run_id == "good"  # the broken one is set aside first
    assert (tmp_path / CLAIMS_DIR / "job-1.invalid").read_bytes() == data


def test_a_request_with_a_wrong_env_is_set_aside_by_the_real_process(tmp_path: Path):
    folder = tmp_path / REQUESTS_DIR
    folder.mkdir(parents=True)
    (folder / "0-bad.json").write_bytes(b'{"run_id": "r1", "env": "x"}')
    args = [sys.executable, "-m", "training", "claim", "--workspace", str(tmp_path)]
    for _ in range(2):  # the execution's retry, too
        done = subprocess.run(
            [*args, "--execution", "job-1"], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "no pending run request" in done.stdout
    assert not (tmp_path / CLAIMS_DIR / "job-1.json").exists()
    assert (tmp_path / CLAIMS_DIR / "job-1.invalid").is_file()


@pytest.mark.parametrize(
    "data",
    [b'{"run_id": "r1", "env": "x"}', b'{"run_id": "r1", "env": {"A": 1}}', b'{"run_id": 3}'],
)
def test_the_request_reader_refuses_wrong_fields_with_value_error_only(data: bytes):
    with pytest.raises(ValueError, match="not a run request"):
        RunRequest.from_bytes(data)
