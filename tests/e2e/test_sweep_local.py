"""`ftk sweep` on `--local` with the tiny model: four real runs, two at once, ranked by their
`ftk eval` score on a held-out file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.targets.local import LocalTarget
from tests.e2e.conftest import tiny_target
from tests.e2e.test_local_loop import ftk


@pytest.fixture
def target(tmp_path: Path, tiny_llama: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FTK_SWEEP_POLL_SECONDS", "0.5")
    with tiny_target(tmp_path, tiny_llama, tiny=1) as local:
        yield local


def test_a_four_point_sweep_two_at_once_completes_ranked_by_eval_score(target: LocalTarget):
    grid = ["--set", "train.learning_rate=1e-4,1e-2", "--set", "lora.r=2,4"]
    opts = ["--parallel", "2", "--name", "g1", "--eval", "data/eval.jsonl", "--json"]
    result = ftk(target, "sweep", "finetuning/tiny.yaml", *grid, *opts)
    assert result.exit_code == 0, result.output

    # Never more than two trainers at once: each later run started after an earlier one ended.
    runs = sorted(target.executions(), key=lambda e: e.started_at)
    assert [e.status for e in runs] == ["succeeded"] * 4
    for i, e in enumerate(runs[2:], start=2):
        assert sum(o.ended_at <= e.started_at for o in runs[:i]) >= i - 1

    status = ftk(target, "sweep", "status", "g1", "--json")
    assert status.exit_code == 0, status.output
    rows = json.loads(status.stdout)["runs"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert {r["status"] for r in rows} == {"succeeded"}
    assert all(r["train_loss"] is not None and r["eval_file_loss"] is not None for r in rows)
    keys = [(-r["score"], r["eval_file_loss"]) for r in rows]
    assert keys == sorted(keys)  # best exact match first, then lowest loss on the eval file
    assert {json.dumps(r["values"], sort_keys=True) for r in rows} == {
        json.dumps({"lora.r": r, "train.learning_rate": lr}, sort_keys=True)
        for lr in (1e-4, 1e-2)
        for r in (2, 4)
    }
