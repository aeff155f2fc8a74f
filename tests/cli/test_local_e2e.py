"""The real local loop on a tiny model: `ftk --local run -f` trains with `python -m training` from
the share, `download` fetches the adapter, `deploy` starts `python -m inference serve`, `chat`
answers through the openai client. About half a minute of CPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli.targets.local import LocalTarget

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """model:
  name: {model}
data:
  train_file: data/train.jsonl
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


@pytest.fixture
def real_project(tmp_path: Path, tiny_llama: Path) -> Path:
    if not (ROOT / "training" / "train.py").exists() or not (ROOT / "inference").is_dir():
        pytest.skip("the training and inference packages are not in this checkout")
    project = tmp_path / "proj"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "training", project / "training", ignore=skip)
    shutil.copytree(ROOT / "inference", project / "inference", ignore=skip)
    (project / "data").mkdir()
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"q {i}"},
                {"role": "assistant", "content": f"a {i}"},
            ]
        }
        for i in range(8)
    ]
    (project / "data" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (project / "finetuning").mkdir()
    (project / "finetuning" / "tiny.yaml").write_text(CONFIG.format(model=tiny_llama))
    return project


def test_train_download_deploy_chat(real_project: Path, tmp_path: Path, invoke):
    target = LocalTarget(real_project, model_cache=tmp_path / "cache", ready_timeout=180)
    try:
        ran = invoke(target, ["run", "finetuning/tiny.yaml", "--run-id", "t1", "-f"], real_project)
        assert ran.exit_code == 0, ran.output
        assert "succeeded" in ran.stderr

        down = invoke(target, ["download", "t1", "--json"], real_project)
        assert down.exit_code == 0, down.output
        adapter = real_project / "runs/t1/adapter"
        assert (adapter / "adapter_model.safetensors").stat().st_size > 0
        assert (real_project / "runs/t1/summary.json").exists()

        deployed = invoke(target, ["deploy", "t1"], real_project)
        assert deployed.exit_code == 0, deployed.output
        answer = invoke(target, ["chat", "q 1", "--max-tokens", "4", "--temperature", "0"])
        assert answer.exit_code == 0, answer.output
        assert answer.stdout.endswith("\n")
    finally:
        target._stop_server()
