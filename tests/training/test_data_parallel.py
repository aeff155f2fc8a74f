"""Data-parallel training on CPU: two processes (torchrun, gloo) on the tiny model match one
process, resume mid-run, and only rank 0 writes the run's files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.training.conftest import (
    fast_config,
    rows,
    train_two_processes,
    write_config,
    write_jsonl,
)
from training.rundir import RunDir
from training.spec.config import load_config
from training.train import main

# The logged loss at a step: one process averages it over the whole batch, two processes average
# their halves' means (and all-reduce their halves' gradients), so they need not agree bit for bit.
# Seen: equal to 5 decimals. 1e-4 relative (about 6e-4 here) is well under one step's change of
# the loss (about 3e-3 here), so a step trained twice or skipped after the resume fails.
REL_TOLERANCE = 1e-4


def _config(workspace: Path, model: Path, run: str, batch_size: int) -> Path:
    cfg = fast_config(model, max_steps=4, save_steps=1, batch_size=batch_size, seed=7)
    cfg["lora"]["dropout"] = 0.0  # no per-process randomness in the forward pass
    return write_config(workspace / f"runs/{run}/config.yaml", cfg)


def _losses(run: RunDir) -> dict[int, float]:
    rows_ = [json.loads(line) for line in run.metrics.read_text().splitlines()]
    steps = [r["step"] for r in rows_ if "loss" in r]
    assert steps == sorted(set(steps)), f"a step logged twice: {steps}"  # rank 0 only
    return {r["step"]: r["loss"] for r in rows_ if "loss" in r}


@pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo")
def test_two_processes_match_one_resume_mid_run_and_only_rank_0_writes(
    workspace: Path, tiny_llama: Path
):
    # Four examples and a global batch of four: every step sees the whole data set in both runs.
    write_jsonl(workspace / "data/train.jsonl", rows("messages")[:4])
    single = _config(workspace, tiny_llama, "one", batch_size=4)
    assert main(load_config(single), workspace=workspace) == 0
    expected = _losses(RunDir(single.parent))

    pair = _config(workspace, tiny_llama, "two", batch_size=2)  # 2 per process x 2 processes
    code, output = train_two_processes(pair, workspace, budget="0")  # stops after one step
    assert code == 75, output
    run = RunDir(pair.parent)
    assert run.status() == "resumable" and run.checkpoint_steps() == [1], output
    code, output = train_two_processes(pair, workspace, budget=None)
    assert code == 0, output
    assert run.status() == "succeeded"

    got = _losses(run)
    assert sorted(got) == [1, 2, 3, 4]
    for step, loss in expected.items():
        assert got[step] == pytest.approx(loss, rel=REL_TOLERANCE), (step, got, expected)
    summary = json.loads(run.summary.read_text())
    assert summary["steps"] == 4 and summary["resumed_from"] == "checkpoint-1"
    assert (run.adapter / "adapter_model.safetensors").is_file()
    assert [p.name for p in run.root.iterdir() if p.name.startswith(".adapter")] == []
    assert all((run.checkpoint(s) / ".complete").is_file() for s in run.checkpoint_steps())
    assert (run.checkpoint(4) / "rng_state_1.pth").is_file()  # both ranks saved their state
    step_lines = [line for line in output.splitlines() if " step " in line and "/4" in line]
    assert len(step_lines) == 3, output  # steps 2-4 of the second execution, logged once each
