"""Fixtures for training tests: small datasets in every format and configs pointing at them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract import env as ftk_env
from training.cli import run

ROOT = Path(__file__).resolve().parents[2]

QA = [
    ("What is the capital of France?", "Paris."),
    ("What is the capital of Sweden?", "Stockholm."),
    ("Is the fox quick?", "yes"),
    ("Is the dog lazy?", "yes"),
    ("Count: 0 1 2 3", "4 5 6"),
    ("Sentiment of 'fine-tuning adapts a model'?", "positive"),
    ("How do I deploy a model?", "Use Azure Container Apps with a GPU."),
    ("Answer yes or no: is Paris in France?", "yes"),
]


def rows(fmt: str) -> list[dict[str, Any]]:
    """Example rows of one data format."""
    if fmt == "messages":
        return [
            {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            for q, a in QA
        ]
    if fmt == "prompt_completion":
        return [{"prompt": q + " ", "completion": a} for q, a in QA]
    if fmt == "text":
        return [{"text": f"Q: {q} A: {a}"} for q, a in QA]
    if fmt == "template":
        return [{"phrase": q, "tone": a, "extra": 1} for q, a in QA]
    raise ValueError(fmt)


TEMPLATE = "<|user|>\n{phrase}<|end|>\n<|assistant|>\n{tone}<|end|>"


def write_jsonl(path: Path, items: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(sections, sort_keys=False), encoding="utf-8")
    return path


def fast_config(model: Path | str, train_file: str = "data/train.jsonl", **train: Any) -> dict:
    """A config that trains a tiny model for a few steps on CPU."""
    return {
        "model": {"name": str(model)},
        "data": {"train_file": train_file},
        "quantization": {"mode": "none"},
        "lora": {"r": 4, "alpha": 8},
        "train": {
            "max_steps": 2,
            "batch_size": 2,
            "logging_steps": 1,
            "save_steps": 2,
            "max_length": 64,
            "gradient_checkpointing": False,
            "warmup_ratio": 0.0,
            **train,
        },
    }


def cli_is_one_line(argv: list[str], capsys) -> str:
    """`python -m training ARGV` in-process: exit 2, one stderr line, no traceback; the line."""
    assert run(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace folder with its own model cache."""
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTK_MODEL_CACHE", str(tmp_path / "model-cache"))
    monkeypatch.delenv("FTK_TIME_BUDGET_SECONDS", raising=False)
    monkeypatch.delenv("FTK_WORKSPACE", raising=False)


def training_exits_2(config: Path, workspace: Path, capsys) -> str:
    """Train `config` through `python -m training`'s entry, in process: exit 2 with one error
    last on stderr (phase lines may come before it) and no traceback; the error's text."""
    assert run(["--config", str(config), "--workspace", str(workspace)]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    assert len(starts) == 1, captured.err
    return "\n".join(lines[starts[0] :]).removeprefix("error: ").rstrip("\n")


def train_two_processes(config: Path, workspace: Path, budget: str | None) -> tuple[int, str]:
    """`python -m training` on `config` as two data-parallel processes (torchrun, gloo on CPU),
    with `budget` as its time budget (none: no budget); the exit code and all output."""
    env = {**os.environ, ftk_env.GPU_PROCESSES: "2", "PYTHONPATH": str(ROOT)}
    env.pop(ftk_env.TIME_BUDGET, None)
    if budget is not None:
        env[ftk_env.TIME_BUDGET] = budget
    proc = subprocess.run(
        [sys.executable, "-m", "training", "--config", str(config), "--workspace", str(workspace)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    return proc.returncode, proc.stdout + proc.stderr
