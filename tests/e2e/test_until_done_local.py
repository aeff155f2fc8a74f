"""`ftk run -f --until-done` on `--local` with the tiny model: a run whose every execution hits its
time budget after one step finishes by itself, one execution per step, with no step trained or
logged twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.targets.local import LocalTarget
from contract.phases import parse_phase
from tests.e2e.conftest import tiny_target
from tests.e2e.test_local_loop import ftk


@pytest.fixture
def target(tmp_path: Path, tiny_llama: Path):
    with tiny_target(tmp_path, tiny_llama, tiny=3) as local:
        yield local


def test_a_run_forced_to_its_deadline_twice_finishes_in_three_executions(
    target: LocalTarget, monkeypatch: pytest.MonkeyPatch
):
    # A budget already spent: each execution trains one step, checkpoints and exits 75.
    monkeypatch.setenv("FTK_TIME_BUDGET_SECONDS", "0")
    result = ftk(target, "run", "finetuning/tiny.yaml", "--run-id", "u1", "-f", "--until-done")
    assert result.exit_code == 0, result.output

    statuses = [e.status for e in target.executions() if e.run_id == "u1"]
    assert statuses == ["succeeded", "resumable", "resumable"]  # newest first
    metrics = (target.share_root / "runs/u1/metrics.jsonl").read_text().splitlines()
    rows = [json.loads(row) for row in metrics]
    for kind in ("loss", "eval_loss"):  # a step may have a train row and an eval row
        steps = [row["step"] for row in rows if kind in row]
        assert steps == sorted(set(steps)) and steps[-1] == 3, (kind, rows)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    # "12:08:56 INFO step 1/3  loss ...": the text after the time, once per step
    step_lines = [line.split(" ", 1)[1] for line in lines if " INFO step " in line]
    assert len(step_lines) == len(set(step_lines)) >= 3, lines
    # Every execution announces its own start phases (untimed markers); any other line twice
    # means a streamed line was repeated.
    output = [line for line in lines if parse_phase(line) is None]
    assert len(output) == len(set(output)), lines
