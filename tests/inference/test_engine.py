"""The transformers engine on its own: several adapters side by side, and the token budget."""

from __future__ import annotations

import asyncio

import pytest

from inference.generation import ContextTooLong, GenerationRequest
from tests.inference.conftest import make_engine

MESSAGES = [{"role": "user", "content": "What is the capital of Sweden?"}]


def _answer(engine, model: str, **kwargs) -> str:
    async def run():
        request = GenerationRequest(model=model, messages=MESSAGES, temperature=0, **kwargs)
        return "".join([event.text async for event in engine.submit(request)])

    return asyncio.run(run())


@pytest.fixture(scope="module")
def second_adapter(tiny_llama, tmp_path_factory):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("other") / "runs" / "run-2" / "adapter"
    torch.manual_seed(2)
    config = LoraConfig(
        r=4, lora_alpha=4, target_modules=["q_proj", "o_proj"], init_lora_weights=False
    )
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama), config).save_pretrained(out)
    return out


def test_each_request_gets_the_adapter_it_names(tiny_llama, adapter_dir, second_adapter, engine):
    from inference.engine import TransformersEngine
    from inference.models import parse_adapters

    both = TransformersEngine(
        str(tiny_llama), parse_adapters([str(adapter_dir), str(second_adapter)])
    )
    both.load()
    assert both.model_ids == ["run-1", "run-2", tiny_llama.name]
    # Interleaved on purpose: switching back and forth must not leak one adapter into another.
    answers = {m: _answer(both, m, max_tokens=10) for m in ["run-2", tiny_llama.name, "run-1"]}
    assert answers["run-1"] == _answer(engine, "run-1", max_tokens=10)  # single-adapter engine
    assert answers[tiny_llama.name] == _answer(engine, tiny_llama.name, max_tokens=10)
    assert len(set(answers.values())) == 3
    both.shutdown()


def test_default_max_tokens_is_capped_by_what_the_context_leaves(tiny_llama):
    short = make_engine(tiny_llama, context_length=40, default_max_tokens=512)
    prompt = len(short.encode(MESSAGES))
    assert short._budget(prompt, None) == 40 - prompt
    with pytest.raises(ContextTooLong) as exc:
        short._budget(prompt, 40)
    assert exc.value.param == "max_tokens"
    with pytest.raises(ContextTooLong):
        short._budget(40, None)
    short.shutdown()


def test_4bit_without_cuda_warns_and_serves_full_precision(tiny_llama, engine, caplog):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this checks the CPU fallback")
    fallback = make_engine(tiny_llama, load_in_4bit=True)
    assert "needs CUDA" in caplog.text
    assert fallback._model.dtype == torch.float32
    base = tiny_llama.name
    assert _answer(fallback, base, max_tokens=5) == _answer(engine, base, max_tokens=5)
    fallback.shutdown()


@pytest.mark.parametrize(
    ("capability", "expected"), [((7, 5), "float16"), ((8, 0), "bfloat16"), ((9, 0), "bfloat16")]
)
def test_auto_dtype_on_cuda_follows_compute_capability_not_bf16_emulation(
    monkeypatch, capability, expected
):
    """A T4 (7.5) says `is_bf16_supported()` True (emulated): it must still get float16, in the
    server and in `ftk eval` alike (one helper, `training.hardware.model_dtype`)."""
    import torch

    from inference.models import pick_dtype
    from training.hardware import model_dtype

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: capability)
    assert pick_dtype("auto", "cuda") == getattr(torch, expected)
    assert model_dtype("cuda:0") == getattr(torch, expected)
    assert pick_dtype("auto", "cpu") == torch.float32


def test_4bit_on_cuda_without_bitsandbytes_is_one_clear_refusal(tiny_llama, monkeypatch):
    import importlib.util

    from inference.models import ModelError, load_base_model

    find_spec = importlib.util.find_spec

    def without_bitsandbytes(name, *args, **kwargs):
        return None if name == "bitsandbytes" else find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", without_bitsandbytes)
    with pytest.raises(ModelError, match="--load-in-4bit needs the bitsandbytes package"):
        load_base_model(tiny_llama, device="cuda", load_in_4bit=True)


def test_the_serve_install_carries_bitsandbytes_for_load_in_4bit():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    serve = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert any(r.startswith("bitsandbytes") for r in serve["optional-dependencies"]["serve"])
    assert "bitsandbytes" in (root / "requirements-serve.txt").read_text()
