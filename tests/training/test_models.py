"""resolve_model: local folders, the model cache, GGUF conversion from a PyPI package, the Hub."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from training.models import ModelNotFoundError, resolve_model


def test_local_folder_is_used_as_is(tiny_llama: Path, tmp_path: Path):
    assert resolve_model(str(tiny_llama), tmp_path / "cache") == tiny_llama


def test_missing_local_folder_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="model folder not found"):
        resolve_model(str(tmp_path / "nope"), tmp_path / "cache")


def test_complete_cache_entry_is_reused(tiny_llama: Path, tmp_path: Path):
    cached = tmp_path / "cache" / "org--tiny"
    shutil.copytree(tiny_llama, cached)
    (cached / ".complete").write_text("ok\n")
    assert resolve_model("org/tiny", tmp_path / "cache") == cached


def test_incomplete_cache_entry_is_not_used_and_offline_hub_fails_cleanly(
    tiny_llama: Path, tmp_path: Path
):
    cached = tmp_path / "cache" / "org--tiny"
    shutil.copytree(tiny_llama, cached)  # no .complete: a download that was killed
    with pytest.raises(ModelNotFoundError, match="offline"):
        resolve_model("org/tiny", tmp_path / "cache")
    leftovers = [p.name for p in (tmp_path / "cache").iterdir()]
    assert leftovers == ["org--tiny"]  # the failed attempt's temp folder was removed


@pytest.mark.slow
def test_smollm2_gguf_is_converted_once_into_the_cache(smollm2_cache: Path):
    """The run's one conversion (tests/conftest.py's `smollm2_cache`, which calls resolve_model
    with an empty cache) left a complete checkpoint that later calls reuse, under either name."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = smollm2_cache / "HuggingFaceTB--SmolLM2-135M-Instruct"
    assert (path / ".complete").is_file() and (path / "model.safetensors").is_file()
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert resolve_model("SmolLM2-135M-Instruct", smollm2_cache) == path
    assert resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct", smollm2_cache) == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp
    model = AutoModelForCausalLM.from_pretrained(path)
    assert not hasattr(model.config, "quantization_config")
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template


def _tiny_causal_lm(tied: bool):
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        tie_word_embeddings=tied,
    )
    return AutoModelForCausalLM.from_config(config)


def test_a_gguf_head_left_on_the_meta_device_is_tied_to_the_embedding(monkeypatch):
    """What transformers did twice under two busy test workers: the GGUF has no output.weight,
    the config says tied, and the head came back without data."""
    import torch

    from training.models import _share_missing_head

    model = _tiny_causal_lm(tied=True)
    model.lm_head.weight = torch.nn.Parameter(torch.empty(64, 16, device="meta"))
    _share_missing_head(model)
    assert model.lm_head.weight is model.model.embed_tokens.weight

    # ... also where transformers' own tying does nothing (as in that process).
    model.lm_head.weight = torch.nn.Parameter(torch.empty(64, 16, device="meta"))
    monkeypatch.setattr(type(model), "tie_weights", lambda self, *a, **k: None)
    _share_missing_head(model)
    assert model.lm_head.weight is model.model.embed_tokens.weight


def test_a_weight_without_data_that_is_not_tied_stops_the_conversion():
    import torch

    from training.models import _share_missing_head

    model = _tiny_causal_lm(tied=False)
    model.lm_head.weight = torch.nn.Parameter(torch.empty(64, 16, device="meta"))
    with pytest.raises(ModelNotFoundError, match=r"lm_head\.weight"):
        _share_missing_head(model)
