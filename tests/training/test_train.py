"""Training end to end on tiny models (CPU): every data format, 4-bit QLoRA, resume, deadline."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contract.phases import Phase, parse_phase
from tests.training.conftest import (
    TEMPLATE,
    fast_config,
    rows,
    training_exits_2,
    write_config,
    write_jsonl,
)
from training.rundir import RunDir
from training.spec.config import load_config
from training.train import main

ROOT = Path(__file__).resolve().parents[2]


def _setup(workspace: Path, model: Path, fmt: str = "messages", **train) -> Path:
    write_jsonl(workspace / "data/train.jsonl", rows(fmt))
    cfg = fast_config(model, **train)
    if fmt == "template":
        cfg["data"]["text_cols"] = ["phrase", "tone"]
        cfg["data"]["text_template"] = TEMPLATE
    return write_config(workspace / "runs/r1/config.yaml", cfg)


def _load_adapter(base: Path, adapter: Path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    return PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)


def _metric_steps(run: RunDir, key: str = "loss") -> list[int]:
    lines = run.metrics.read_text().splitlines()
    return [row["step"] for row in map(json.loads, lines) if key in row]


@pytest.mark.parametrize("fmt", ["messages", "prompt_completion", "text", "template"])
def test_each_format_trains_and_the_adapter_loads(
    workspace: Path, tiny_llama: Path, fmt: str, capsys
):
    config_path = _setup(workspace, tiny_llama, fmt)
    assert main(load_config(config_path), workspace=workspace) == 0
    phases = [parse_phase(line) for line in capsys.readouterr().err.splitlines()]
    assert [p for p in phases if p] == [Phase.LOADING_MODEL, Phase.TRAINING], "ftk ps reads these"
    run = RunDir(config_path.parent)
    assert run.status() == "succeeded"
    summary = json.loads(run.summary.read_text())
    assert summary["steps"] == 2 and summary["tokens"] > 0
    assert summary["versions"]["trl"]
    assert _metric_steps(run) == [1, 2]
    assert run.loss_plot.stat().st_size > 1000
    assert (run.checkpoint(2) / ".complete").is_file()
    model = _load_adapter(tiny_llama, run.adapter)
    targets = model.peft_config["default"].target_modules
    assert {"q_proj", "v_proj", "down_proj"} <= set(targets)


def test_a_run_ftk_started_trains_in_its_own_folder_whatever_output_dir_says(
    workspace: Path, tiny_llama: Path
):
    config_path = _setup(workspace, tiny_llama, "text")
    config = load_config(config_path)
    config = dataclasses.replace(config, output=dataclasses.replace(config.output, dir="shared"))
    # runs/r1: where ftk ps, download and deploy look (`--run-dir`, as `claim` and the local
    # target pass it)
    assert main(config, workspace=workspace, run_dir=config_path.parent) == 0
    run = RunDir(config_path.parent)
    assert run.status() == "succeeded" and (run.adapter / "adapter_config.json").is_file()
    assert not (workspace / "shared").exists()  # a second run naming it cannot meet this one


def test_phi3_gets_fused_targets_and_eval_loss(workspace: Path, tiny_phi3: Path):
    config_path = _setup(workspace, tiny_phi3, "messages")
    config = load_config(config_path)
    config = dataclasses.replace(
        config,
        data=dataclasses.replace(config.data, eval_split=0.25),
        lora=dataclasses.replace(config.lora, last_layers=1),
    )
    assert main(config, workspace=workspace) == 0
    run = RunDir(config_path.parent)
    summary = json.loads(run.summary.read_text())
    assert summary["eval_examples"] == 2 and summary["eval_loss"] is not None
    adapter_config = json.loads((run.adapter / "adapter_config.json").read_text())
    assert set(adapter_config["target_modules"]) == {
        "qkv_proj",
        "o_proj",
        "gate_up_proj",
        "down_proj",
    }
    assert adapter_config["layers_to_transform"] == [1]  # the last of 2 layers
    _load_adapter(tiny_phi3, run.adapter)


def test_qlora_4bit_nf4_double_quant_trains_on_cpu(workspace: Path, tiny_llama: Path):
    import bitsandbytes as bnb

    from training import hardware
    from training.model_setup import load_model

    config_path = _setup(workspace, tiny_llama, "prompt_completion")
    config = load_config(config_path)
    config = dataclasses.replace(
        config, quantization=dataclasses.replace(config.quantization, mode="4bit")
    )
    ref = type("Ref", (), {"path": tiny_llama, "name": str(tiny_llama), "kind": "local"})()
    model, _ = load_model(config, ref, workspace, hardware.detect(), "fp32")
    layer = model.base_model.model.model.layers[0].self_attn.q_proj.base_layer
    assert isinstance(layer, bnb.nn.Linear4bit)
    assert layer.weight.quant_state.quant_type == "nf4"
    assert layer.weight.quant_state.nested  # double quantization

    assert main(config, workspace=workspace) == 0
    summary = json.loads(RunDir(config_path.parent).summary.read_text())
    assert summary["quantization"] == "4bit" and summary["steps"] == 2
    assert summary["train_loss"] > 0


def test_bad_data_fails_before_loading_the_model(workspace: Path, tiny_llama: Path, capsys):
    config_path = _setup(workspace, tiny_llama, "text")
    write_jsonl(workspace / "data/train.jsonl", [{"text": "ok"}, {"txt": "typo"}])
    error = training_exits_2(config_path, workspace, capsys)
    assert RunDir(config_path.parent).status() == "failed"
    assert "train.jsonl:2: missing field 'text'" in error


def test_sigterm_then_truncated_checkpoint_then_deadline_then_finish(
    workspace: Path, tiny_llama: Path
):
    """One run across four executions, like an ACA job that keeps timing out."""
    config_path = _setup(workspace, tiny_llama, "text", max_steps=400, save_steps=2)
    run = RunDir(config_path.parent)

    # 1. The job's replica is stopped (SIGTERM) after its first checkpoint: exit 75, resumable.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "training", "--config", str(config_path)]
    proc = subprocess.Popen([*cmd, "--workspace", str(workspace)], cwd=ROOT, env=env)
    try:
        limit = time.monotonic() + 240
        while run.latest_checkpoint() is None and proc.poll() is None:
            assert time.monotonic() < limit, "no checkpoint within 240 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 75
    finally:
        proc.kill()
    assert run.status() == "resumable"
    first = run.checkpoint_steps()[-1]
    assert json.loads(run.summary.read_text())["stop_reason"] == "SIGTERM"
    assert not run.adapter.exists()

    # 2. A replica killed while saving left a newer checkpoint without `.complete`.
    partial = run.checkpoint(first + 2)
    partial.mkdir()
    (partial / "adapter_model.safetensors").write_bytes(b"\0" * 10)
    (partial / "trainer_state.json").write_text('{"global_step": ')

    # 3. Next execution with a deadline already spent: one more step, checkpoint, exit 75.
    config = load_config(config_path)
    assert main(config, workspace=workspace, deadline=0) == 75
    summary = json.loads(run.summary.read_text())
    assert summary["resumed_from"] == f"checkpoint-{first}"
    assert summary["stop_reason"] == "deadline"
    assert run.checkpoint_steps()[-1] == first + 1
    assert not partial.exists()

    # 4. Last execution runs to the end; the step count continued throughout.
    short = dataclasses.replace(
        config, train=dataclasses.replace(config.train, max_steps=first + 3)
    )
    assert main(short, workspace=workspace) == 0
    assert run.status() == "succeeded"
    summary = json.loads(run.summary.read_text())
    assert summary["resumed_from"] == f"checkpoint-{first + 1}"
    assert summary["steps"] == first + 3
    steps = _metric_steps(run)
    assert steps == list(range(1, first + 4))
    assert len(run.checkpoint_steps(complete_only=False)) == 2  # save_total_limit
    _load_adapter(tiny_llama, run.adapter)
