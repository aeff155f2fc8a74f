"""The whole CLI flow on `--local` with a tiny random model: real `python -m training` executions
and a real `python -m inference serve`, driven through the `ftk` verbs as a user types them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.main import cli
from cli.targets.local import LocalTarget
from tests.e2e.conftest import tiny_target


@pytest.fixture
def target(tmp_path: Path, tiny_llama: Path):
    with tiny_target(tmp_path, tiny_llama, tiny=2, long=10000) as local:
        yield local


def ftk(target: LocalTarget, *args: str):
    app = App.with_target(target, target.project_dir)
    return CliRunner().invoke(cli, list(args), obj=app, catch_exceptions=False)


def ps(target: LocalTarget) -> dict[str, dict]:
    result = ftk(target, "ps", "--json")
    assert result.exit_code == 0, result.output
    return {row["run_id"]: row for row in json.loads(result.stdout)}


def test_sync_run_ps_logs_download_eval_deploy_chat_stop(target: LocalTarget):
    project = target.project_dir
    first = ftk(target, "sync", "--json")
    assert first.exit_code == 0, first.output
    assert {"data/train.jsonl", "finetuning/tiny.yaml"} <= set(json.loads(first.stdout)["uploaded"])
    again = json.loads(ftk(target, "sync", "--json").stdout)
    assert again["uploaded"] == [] and again["bytes"] == 0 and again["skipped"] >= 4

    started = ftk(target, "run", "finetuning/tiny.yaml", "--run-id", "e1", "--no-sync", "--json")
    assert started.exit_code == 0, started.output
    execution = json.loads(started.stdout)["execution"]
    followed = ftk(target, "logs", execution, "-f")
    assert followed.exit_code == 0, followed.output
    assert "step 2/2" in followed.stdout
    assert ps(target)["e1"]["status"] == "succeeded"
    history = ftk(target, "logs", execution, "--tail", "3")
    assert history.exit_code == 0 and history.stdout.strip()

    down = ftk(target, "download", "e1", "--json")
    assert down.exit_code == 0, down.output
    assert (project / "runs/e1/adapter/adapter_model.safetensors").stat().st_size > 0
    summary = json.loads((project / "runs/e1/summary.json").read_text())
    assert summary["steps"] == 2 and summary["status"] == "succeeded"

    scored = ftk(target, "eval", "e1", "--data", "data/eval.jsonl", "--json")
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["fine_tuned"]["examples"] == 4

    deployed = ftk(target, "deploy", "e1")
    assert deployed.exit_code == 0, deployed.output
    answer = ftk(target, "chat", "Is 1 + 1 = 2?", "--max-tokens", "4", "--temperature", "0")
    assert answer.exit_code == 0, answer.output
    assert answer.stdout.endswith("\n")

    long = ftk(target, "run", "finetuning/long.yaml", "--run-id", "s1", "--no-sync", "--json")
    assert long.exit_code == 0, long.output
    assert ps(target)["s1"]["status"] == "running"
    _wait_for_log(target, json.loads(long.stdout)["execution"], "step 1/")
    stopped = ftk(target, "stop")
    assert stopped.exit_code == 0, stopped.output
    _wait_finished(target, "s1")
    assert ps(target)["s1"]["status"] == "stopped"

    assert ftk(target, "endpoint", "--stop").exit_code == 0
    assert ftk(target, "chat", "hi").exit_code != 0


def test_run_stopped_by_its_deadline_resumes_to_success(
    target: LocalTarget, monkeypatch: pytest.MonkeyPatch
):
    # A budget already spent: one step, a checkpoint, exit 75 -- what an ACA replica timeout does.
    monkeypatch.setenv("FTK_TIME_BUDGET_SECONDS", "0")
    first = ftk(target, "run", "finetuning/tiny.yaml", "--run-id", "d1", "-f")
    assert first.exit_code == 1, first.output
    assert "ftk resume d1" in first.stderr
    assert ps(target)["d1"]["status"] == "resumable"

    monkeypatch.delenv("FTK_TIME_BUDGET_SECONDS")
    resumed = ftk(target, "resume", "d1", "-f")
    assert resumed.exit_code == 0, resumed.output
    runs = ftk(target, "ps", "--json")
    statuses = [r["status"] for r in json.loads(runs.stdout) if r["run_id"] == "d1"]
    assert statuses == ["succeeded", "resumable"]  # newest first: two executions of one run
    summary = json.loads((target.share_root / "runs/d1/summary.json").read_text())
    assert summary["resumed_from"] == "checkpoint-1" and summary["steps"] == 2


def _wait_for_log(target: LocalTarget, execution: str, text: str, timeout: float = 180.0) -> None:
    """Wait until training is under way (a stop before that is a different story)."""
    log = target.exec_root / execution / "log"
    limit = time.monotonic() + timeout
    while not (log.is_file() and text in log.read_text(errors="replace")):
        assert target.get_execution(execution).status == "running", log.read_text()
        assert time.monotonic() < limit, f"no {text!r} in the log within {timeout:.0f}s"
        time.sleep(0.5)


def _wait_finished(target: LocalTarget, run_id: str, timeout: float = 120.0) -> None:
    limit = time.monotonic() + timeout
    while ps(target)[run_id]["status"] in ("running", "queued"):
        assert time.monotonic() < limit, f"{run_id} did not end within {timeout:.0f}s"
        time.sleep(0.5)
