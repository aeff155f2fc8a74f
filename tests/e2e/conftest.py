"""End-to-end fixtures: an eval file and a LoRA adapter for the tiny model, a CLI invoker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.main import cli
from cli.targets.local import LocalTarget
from tests.cli.conftest import stop_all

LABELS = ("yes", "no", "maybe")


def chat_rows(n: int) -> list[dict]:
    """Short chat examples whose answers come from a fixed label set."""
    return [
        {
            "messages": [
                {"role": "system", "content": "Answer yes, no or maybe."},
                {"role": "user", "content": f"Is {i} + {i} = {2 * i}?"},
                {"role": "assistant", "content": LABELS[i % len(LABELS)]},
            ]
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


CONFIG = """model:
  name: {model}
data:
  train_file: data/train.jsonl
  eval_file: data/eval.jsonl
quantization:
  mode: none
lora:
  r: 4
  alpha: 8
train:
  max_steps: {steps}
  batch_size: 4
  max_length: 64
  gradient_checkpointing: false
  precision: fp32
  logging_steps: 1
  save_steps: 1
"""


@contextmanager
def tiny_target(tmp_path: Path, model: Path, **configs: int) -> Iterator[LocalTarget]:
    """A LocalTarget over a project with 8 chat rows to train on and 4 to evaluate, and one
    `finetuning/NAME.yaml` (CONFIG) per `NAME=max_steps`; what it started is stopped after."""
    project = tmp_path / "proj"
    write_jsonl(project / "data/train.jsonl", chat_rows(8))
    write_jsonl(project / "data/eval.jsonl", chat_rows(4))
    (project / "finetuning").mkdir()
    for name, steps in configs.items():
        (project / f"finetuning/{name}.yaml").write_text(CONFIG.format(model=model, steps=steps))
    local = LocalTarget(project, model_cache=tmp_path / "cache", ready_timeout=300)
    try:
        yield local
    finally:
        stop_all(local, timeout=60)


@pytest.fixture
def eval_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "eval.jsonl", chat_rows(6))


@pytest.fixture(scope="session")
def tiny_adapter(tiny_llama: Path, tmp_path_factory) -> Path:
    """A LoRA adapter for `tiny_llama` with random (non-zero) weights, so it changes the outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    out = tmp_path_factory.mktemp("tiny-adapter") / "adapter"
    peft_model = get_peft_model(model, config)
    peft_model.peft_config["default"].base_model_name_or_path = str(tiny_llama)
    peft_model.save_pretrained(out)
    return out


@pytest.fixture
def invoke():
    """Run `ftk ARGS` in-process with a chosen App (project folder, target); returns the Result."""

    def run(args: list[str], app: App) -> object:
        return CliRunner().invoke(cli, args, obj=app, catch_exceptions=False)

    return run
