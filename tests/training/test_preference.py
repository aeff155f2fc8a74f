"""Preference tuning (train.method dpo / orpo): config keys, pair validation, training on a tiny
model (CPU), resume after a deadline stop, and data parallel on two gloo processes."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.training.conftest import (
    QA,
    cli_is_one_line,
    fast_config,
    rows,
    train_two_processes,
    training_exits_2,
    write_config,
    write_jsonl,
)
from training.rundir import RunDir
from training.spec.config import ConfigError, load_config, parse_config
from training.train import main

ROOT = Path(__file__).resolve().parents[2]
REJECTED = "Well, that is a long story, and honestly it depends on many things."


def pairs(fmt: str = "text") -> list[dict[str, Any]]:
    """Preference pairs: the short right answer is chosen, a rambling non-answer rejected."""
    if fmt == "text":
        return [{"prompt": q + " ", "chosen": a, "rejected": REJECTED} for q, a in QA]
    return [
        {
            "prompt": [{"role": "user", "content": q}],
            "chosen": [{"role": "assistant", "content": a}],
            "rejected": [{"role": "assistant", "content": REJECTED}],
        }
        for q, a in QA
    ]


def _setup(workspace: Path, model: Path, method: str = "dpo", fmt: str = "text", **train) -> Path:
    write_jsonl(workspace / "data/train.jsonl", pairs(fmt))
    cfg = fast_config(model, method=method, **train)
    return write_config(workspace / "runs/r1/config.yaml", cfg)


BASE = "model: {name: m}\ndata: {train_file: d.jsonl}\n"


# ---- config ---------------------------------------------------------------------------------


def test_method_defaults_to_sft_and_existing_configs_mean_the_same():
    config = parse_config(BASE + "train: {max_length: 64, packing: true}\n")
    assert config.train.method == "sft"
    assert (config.train.beta, config.train.loss_type, config.train.label_smoothing) == (
        None,
        None,
        None,
    )
    for example in sorted((ROOT / "training/examples").glob("*.yaml")):
        assert load_config(example).train.method == "sft", example


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ("{beta: 0.2}", "train.beta is read only by train.method dpo or orpo"),
        ("{method: dpo, packing: true}", "train.packing is read only by train.method sft"),
        ("{method: orpo, loss_type: ipo}", "train.loss_type is read only by train.method dpo"),
        ("{method: dpo, beta: 0}", "train.beta must be in (0, 10]"),
        ("{method: dpo, beta: 11}", "train.beta must be in (0, 10]"),
        ("{method: dpo, loss_type: kto}", "train.loss_type must be one of sigmoid, hinge"),
        (
            "{method: dpo, loss_type: robust, label_smoothing: 0.5}",
            "train.label_smoothing must be in [0, 0.5)",
        ),
        ("{method: dpo, label_smoothing: 0.1}", "read only by train.loss_type: robust"),
        ("{method: ppo}", "train.method must be one of sft, dpo, orpo"),
    ],
)
def test_a_key_of_another_method_or_out_of_range_is_an_error_naming_it(train, message):
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + f"train: {train}\n")
    assert message in info.value.message
    assert info.value.line == 3


def test_sft_data_keys_are_errors_with_dpo():
    text = BASE.replace("d.jsonl}", "d.jsonl, format: messages}") + "train: {method: dpo}\n"
    with pytest.raises(ConfigError, match=r"data\.format is read only by train\.method sft"):
        parse_config(text)


# ---- data validation ------------------------------------------------------------------------


def _validate_one_line(workspace: Path, data: list[Any], capsys, method="dpo", **train) -> str:
    write_jsonl(workspace / "data/train.jsonl", data)
    cfg = fast_config(workspace / "no-model", method=method, **train)
    cfg["model"]["name"] = "SmolLM2-135M-Instruct"  # a catalog id: nothing to load
    config = write_config(workspace / "config.yaml", cfg)
    return cli_is_one_line(
        ["validate", "--config", str(config), "--workspace", str(workspace)], capsys
    )


def _pair(**fields: Any) -> dict[str, Any]:
    row = {"prompt": "Where is my parcel?", "chosen": "It ships today.", "rejected": REJECTED}
    row.update(fields)
    return {k: v for k, v in row.items() if v is not None}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_pair(chosen=None), ":2: missing field 'chosen'"),
        (_pair(prompt=None), ":2: missing field 'prompt'"),
        (_pair(rejected="   "), ":2: empty 'rejected'"),
        (_pair(rejected="It ships today."), ":2: chosen and rejected are the same text"),
        (
            _pair(prompt=[{"role": "user", "content": "Where?"}]),
            ":2: mixed formats: this prompt is messages, the file's first is text",
        ),
        (_pair(chosen=["It ships today."]), ":2: field 'chosen' must be a string"),
    ],
)
def test_each_bad_pair_is_one_line_with_file_and_line_and_exit_2(workspace, capsys, bad, message):
    line = _validate_one_line(workspace, [_pair(), bad], capsys)
    assert "train.jsonl" in line and message in line, line


def test_bad_conversational_pairs_name_the_message(workspace, capsys):
    good = pairs("messages")[0]
    bad = json.loads(json.dumps(good))
    bad["chosen"][0]["role"] = "user"
    line = _validate_one_line(workspace, [good, bad], capsys)
    assert ":2: chosen message 1: expected role 'assistant', got 'user'" in line
    same = json.loads(json.dumps(good))
    same["rejected"] = same["chosen"]
    line = _validate_one_line(workspace, [good, same], capsys)
    assert ":2: chosen and rejected are the same text" in line


def test_a_prompt_longer_than_max_length_is_an_error_with_the_models_tokenizer(
    workspace, tiny_llama, capsys
):
    short = _pair(prompt="Where?", chosen="Here.", rejected="No.")
    write_jsonl(workspace / "data/train.jsonl", [short, _pair(prompt="word " * 200)])
    cfg = fast_config(tiny_llama, method="dpo", max_length=32)
    config = write_config(workspace / "config.yaml", cfg)
    line = cli_is_one_line(
        ["validate", "--config", str(config), "--workspace", str(workspace)], capsys
    )
    assert "train.jsonl:2: 1 prompt(s) are train.max_length=32 tokens or longer" in line


def test_sft_given_pairs_and_dpo_given_sft_rows_are_one_clear_error(workspace, capsys):
    line = _validate_one_line(workspace, [_pair(), _pair()], capsys, method="sft")
    assert ":1: this file holds preference pairs" in line
    assert "set train.method: dpo or orpo" in line
    line = _validate_one_line(workspace, rows("messages"), capsys)
    assert ":1: this file holds SFT rows ('messages' format), not preference pairs" in line


def test_training_refuses_sft_rows_for_dpo_before_loading_the_model(workspace, tiny_llama, capsys):
    write_jsonl(workspace / "data/train.jsonl", rows("prompt_completion"))
    config = write_config(workspace / "runs/r1/config.yaml", fast_config(tiny_llama, method="dpo"))
    error = training_exits_2(config, workspace, capsys)
    assert RunDir(config.parent).status() == "failed"
    assert "train.jsonl:1: this file holds SFT rows" in error and "\n" not in error


# ---- training -------------------------------------------------------------------------------


def _metrics(run: RunDir) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run.metrics.read_text().splitlines()]


@pytest.mark.parametrize(
    ("method", "fmt", "quant"),
    [("dpo", "text", "none"), ("dpo", "messages", "4bit"), ("orpo", "messages", "none")],
)
def test_preference_methods_train_and_write_the_run_files(
    workspace, tiny_llama, method, fmt, quant
):
    config_path = _setup(workspace, tiny_llama, method, fmt, learning_rate=1e-2)
    config = load_config(config_path)
    config = dataclasses.replace(
        config, quantization=dataclasses.replace(config.quantization, mode=quant)
    )
    assert main(config, workspace=workspace) == 0
    run = RunDir(config_path.parent)
    summary = json.loads(run.summary.read_text())
    assert summary["status"] == "succeeded" and summary["method"] == method
    assert summary["quantization"] == quant
    if method == "dpo":
        assert summary["tokens"] > 0 and summary["tokens_per_second"] > 0
    else:  # ORPO's collator has no input_ids: nothing counted, and no rate claimed
        assert summary["tokens"] == 0 and summary["tokens_per_second"] is None
        assert all(r["tokens_per_s"] is None for r in _metrics(run) if "loss" in r)
    assert summary["steps"] == 2 and summary["reward_accuracy"] is not None
    logged = [r for r in _metrics(run) if "loss" in r]
    assert [r["step"] for r in logged] == [1, 2]
    assert all("reward_margin" in r for r in logged)
    assert run.loss_plot.stat().st_size > 1000
    assert (run.checkpoint(2) / ".complete").is_file()
    adapter = json.loads((run.adapter / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(tiny_llama)


def test_dpo_reference_is_the_base_with_the_adapter_disabled(workspace, tiny_llama):
    from training import hardware, preference_trainer
    from training.model_setup import load_model

    config = load_config(_setup(workspace, tiny_llama, "dpo"))
    ref = type("Ref", (), {"path": tiny_llama, "name": str(tiny_llama), "kind": "local"})()
    hw = hardware.detect()
    model, tokenizer = load_model(config, ref, workspace, hw, "fp32", lora=False)
    train_ds, _ = preference_trainer.datasets(config, workspace, tokenizer)
    run = RunDir(workspace / "runs/r1")
    trainer = preference_trainer.build_trainer(
        config, run, model, tokenizer, train_ds, None, hw, "fp32"
    )
    assert trainer.ref_model is None  # no second model in memory ...
    assert list(trainer.model.peft_config) == ["default"]  # ... nor a second "ref" adapter


def test_dpo_resumes_after_a_deadline_stop(workspace, tiny_llama):
    config_path = _setup(workspace, tiny_llama, "dpo", max_steps=3, save_steps=1)
    run = RunDir(config_path.parent)
    config = load_config(config_path)
    assert main(config, workspace=workspace, deadline=0) == 75  # one step, a checkpoint
    assert run.status() == "resumable" and run.checkpoint_steps() == [1]
    assert json.loads(run.summary.read_text())["stop_reason"] == "deadline"
    assert not run.adapter.exists()

    assert main(config, workspace=workspace) == 0
    summary = json.loads(run.summary.read_text())
    assert summary["resumed_from"] == "checkpoint-1" and summary["steps"] == 3
    assert [r["step"] for r in _metrics(run) if "loss" in r] == [1, 2, 3]
    assert (run.adapter / "adapter_model.safetensors").is_file()


@pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo")
def test_dpo_data_parallel_on_two_gloo_processes_resumes_and_rank_0_writes(workspace, tiny_llama):
    write_jsonl(workspace / "data/train.jsonl", pairs("text")[:4])
    cfg = fast_config(tiny_llama, method="dpo", max_steps=2, save_steps=1, batch_size=1)
    config = write_config(workspace / "runs/two/config.yaml", cfg)
    run = RunDir(config.parent)

    code, output = train_two_processes(config, workspace, "0")  # stops after one step
    assert code == 75, output
    assert run.checkpoint_steps() == [1], output
    code, output = train_two_processes(config, workspace, None)
    assert code == 0, output
    summary = json.loads(run.summary.read_text())
    assert summary["steps"] == 2 and summary["resumed_from"] == "checkpoint-1"
    assert [r["step"] for r in _metrics(run) if "loss" in r] == [1, 2]  # rank 0 logs once
    assert (run.checkpoint(2) / "rng_state_1.pth").is_file()  # both ranks saved their state
    assert (run.adapter / "adapter_model.safetensors").is_file()


def test_a_config_without_method_trains_sft_and_says_so(workspace, tiny_llama):
    write_jsonl(workspace / "data/train.jsonl", rows("text"))
    config = load_config(write_config(workspace / "runs/s/config.yaml", fast_config(tiny_llama)))
    assert config.train.method == "sft"
    assert main(config, workspace=workspace) == 0
    assert json.loads(RunDir(config.source.parent).summary.read_text())["method"] == "sft"


@pytest.mark.parametrize("name", ["dpo.yaml", "orpo.yaml"])
def test_the_worked_example_validates_from_the_repo_root(name: str):
    from training.spec.validate import validate_config_file

    report = validate_config_file(ROOT / "examples/preference" / name, ROOT)
    assert report.ok, report.to_dict()
    assert report.stats["format"] == "preference_messages"
    assert (report.stats["train_examples"], report.stats["eval_examples"]) == (40, 12)


@pytest.mark.parametrize("method", ["sft", "dpo", "orpo"])
def test_a_saved_config_with_every_key_reads_back_for_each_method(method: str):
    """A run saves its config with every key (to_dict); its defaults are no other method's."""
    import yaml

    from training.spec.config import to_dict

    config = parse_config(BASE + f"train: {{method: {method}}}\n")
    again = parse_config(yaml.safe_dump(to_dict(config)))
    assert again.train == config.train
