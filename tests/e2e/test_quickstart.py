"""`ftk quickstart`: the whole loop through the real verbs.

The fast test runs it on a tiny random model (a sample project laid out like examples/quickstart).
The slow one runs the real thing on SmolLM2-135M-Instruct and checks that fine-tuning clearly beats
the base model on the held-out messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.main import cli
from cli.ops.quickstart import EXAMPLE_DIR, resolve_base_model
from cli.targets.local import LocalTarget
from tests.cli.conftest import stop_all
from tests.e2e.conftest import chat_rows, write_jsonl
from training.evaluate import normalize

TINY_CONFIG = """model:
  name: {model}
data:
  train_file: train.jsonl
  eval_file: eval.jsonl
quantization:
  mode: none
lora:
  r: 4
  alpha: 8
train:
  max_steps: 2
  batch_size: 4
  max_length: 64
  gradient_checkpointing: false
  precision: fp32
  logging_steps: 1
  save_steps: 2
"""


def quickstart(project: Path, *args: str):
    app = App(project_dir=project)
    return CliRunner().invoke(cli, ["quickstart", *args], obj=app, catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FTK_MODEL_CACHE", str(tmp_path / "model-cache"))
    project = tmp_path / "proj"
    project.mkdir()
    yield project
    stop_all(LocalTarget(project / ".ftk/quickstart"), timeout=60)


def test_quickstart_on_a_tiny_model(project: Path, tmp_path: Path, tiny_llama: Path):
    example = tmp_path / "example"
    write_jsonl(example / "train.jsonl", chat_rows(8))
    write_jsonl(example / "eval.jsonl", chat_rows(4))
    (example / "quickstart.yaml").write_text(TINY_CONFIG.format(model=tiny_llama))

    result = quickstart(project, "--example", str(example), "--run-id", "q1", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["status"] == "succeeded" and out["run_id"] == "q1"
    assert out["eval"]["base"]["examples"] == out["eval"]["fine_tuned"]["examples"] == 4
    assert out["chat"]["messages"][-1]["content"] == "Is 0 + 0 = 0?"  # the first held-out row
    assert isinstance(out["chat"]["answer"], str)
    workspace = project / ".ftk/quickstart"
    assert out["workspace"] == str(workspace)
    assert (workspace / ".ftk/local/share/runs/q1/adapter/adapter_config.json").is_file()
    for step in ("1/6", "2/6", "3/6", "4/6", "5/6", "6/6"):
        assert step in result.stderr
    assert "step 2/2" in result.stderr  # the training log streamed as it came
    assert "EXACT MATCH" in result.stderr and "pulumi up" in result.stderr
    assert LocalTarget(workspace).endpoint().ready  # left serving for `ftk chat`


def test_quickstart_without_its_sample_project_says_so(project: Path, tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = quickstart(project, "--example", str(empty))
    assert result.exit_code == 3
    assert "no quickstart.yaml" in result.stderr and "Traceback" not in result.output


# Measured here on 2 CPU cores shared with other work (load average 4-8), 40 held-out messages:
# - `ftk quickstart` (LoRA r=8, lr 1e-3, 30 steps of 8, through `python -m training`): base 0/40
#   exact match (it answers in sentences: "I'm sorry for the misunderstanding, ..."), fine-tuned
#   38/40 (95%); mean loss 6.233 -> 0.070; the chat answer was "billing".
# - throwaway plain-PEFT runs of the same data: 0/40 -> 38/40 (30 steps, lr 1e-3) and 0/40 -> 36/40
#   (20 steps, lr 2e-3).
# The 50-point margin and the 70% floor leave room for thread-count and library-version noise, and
# still fail when fine-tuning does not take.
MIN_GAIN = 0.5
MIN_TUNED = 0.7


@pytest.mark.slow
def test_real_quickstart_beats_the_base_model(
    project: Path, smollm2_cache: Path, monkeypatch: pytest.MonkeyPatch
):
    """README command 1, less the one-time conversion (done once per test run by the
    `smollm2_cache` fixture through the same resolve_model, and checked by test_models.py)."""
    monkeypatch.setenv("FTK_MODEL_CACHE", str(smollm2_cache))
    assert (EXAMPLE_DIR / "quickstart.yaml").is_file()

    result = quickstart(project, "--run-id", "real", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    base, tuned = out["eval"]["base"], out["eval"]["fine_tuned"]
    assert base["examples"] == tuned["examples"] == 40
    assert tuned["exact_match"] - base["exact_match"] >= MIN_GAIN, out["eval"]
    assert tuned["exact_match"] >= MIN_TUNED, out["eval"]
    assert tuned["mean_loss"] < base["mean_loss"]
    labels = {"billing", "shipping", "technical", "account"}
    assert normalize(out["chat"]["answer"]) in labels, out["chat"]
    assert out["model_converted"] is False  # the run's shared conversion was reused
    assert resolve_base_model("SmolLM2-135M-Instruct", smollm2_cache) == (
        Path(out["base_model"]),
        False,
    )
