"""The training memory estimate: its parts behave as the settings say, and it matches what
training measures on CPU (within 25%) for the tiny test model and SmolLM2-135M."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from training.spec.catalog import MODELS
from training.spec.config import from_dict
from training.spec.memory import (
    GIB,
    KNOWN_SHAPES,
    ModelShape,
    estimate,
    find_shape,
    shape_from_config,
)

ROOT = Path(__file__).resolve().parents[2]
SMOL = KNOWN_SHAPES["HuggingFaceTB/SmolLM2-135M-Instruct"]
PHI3 = KNOWN_SHAPES["microsoft/Phi-3-mini-4k-instruct"]


def config(**train):  # type: ignore[no-untyped-def]
    quant = train.pop("quant", "4bit")
    return from_dict(
        {
            "model": {"name": "m"},
            "data": {"train_file": "d.jsonl"},
            "quantization": {"mode": quant},
            "train": train,
        }
    )


def test_shapes_count_the_published_parameters():
    assert SMOL.params == pytest.approx(134.5e6, rel=0.01)  # SmolLM2-135M
    assert PHI3.params == pytest.approx(3.82e9, rel=0.01)  # Phi-3-mini: 3.8 B
    assert KNOWN_SHAPES["mistralai/Mistral-7B-Instruct-v0.3"].params == pytest.approx(
        7.25e9, rel=0.01
    )


def test_shape_from_a_config_json(tmp_path: Path):
    (tmp_path / "config.json").write_text(
        '{"vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 128,'
        ' "num_attention_heads": 4, "num_key_value_heads": 2, "model_type": "llama"}'
    )
    shape = find_shape("whatever", [tmp_path])
    assert shape == ModelShape(100, 64, 2, 128, 4, 2, False, "llama")
    assert find_shape("SmolLM2-135M-Instruct") == SMOL  # catalog id -> table
    assert find_shape("nobody/unknown") is None
    nested = {
        "text_config": {
            "vocab_size": 10,
            "hidden_size": 8,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
        }
    }
    assert shape_from_config(nested).intermediate == 32  # 4 x hidden when not given


def test_nf4_weights_are_about_a_quarter_of_half_precision():
    four = estimate(config(quant="4bit"), PHI3, gpu="A100")
    half = estimate(config(quant="none"), PHI3, gpu="A100")
    assert four.precision == half.precision == "bf16"
    assert 0.25 < four.weights / half.weights < 0.4  # embeddings and head stay unquantized
    assert half.weights == pytest.approx(PHI3.params * 2, rel=0.001)


def test_checkpointing_cuts_activations_and_t4_means_fp16():
    on = estimate(config(gradient_checkpointing=True, max_length=2048), PHI3, gpu="T4")
    off = estimate(config(gradient_checkpointing=False, max_length=2048), PHI3, gpu="T4")
    assert on.precision == "fp16"
    assert off.activations > 10 * on.activations
    assert on.overhead >= GIB  # CUDA context
    assert estimate(config(quant="none"), SMOL, gpu=None).overhead == 0  # CPU: no CUDA


def test_phi3_4bit_at_1024_fits_a_t4_but_not_at_4096_without_checkpointing():
    short = estimate(config(max_length=1024, batch_size=4), PHI3, gpu="T4")
    long = estimate(
        config(max_length=4096, batch_size=4, gradient_checkpointing=False), PHI3, gpu="T4"
    )
    assert short.total < 16 * GIB < long.total


def test_lora_counts_only_the_last_layers_it_touches():
    all_layers = from_dict(
        {"model": {"name": "m"}, "data": {"train_file": "d"}, "quantization": {"mode": "none"}}
    )
    last = from_dict(
        {
            "model": {"name": "m"},
            "data": {"train_file": "d"},
            "quantization": {"mode": "none"},
            "lora": {"last_layers": 3},
        }
    )
    a, b = estimate(all_layers, SMOL, gpu=None), estimate(last, SMOL, gpu=None)
    assert a.lora_params == 10 * b.lora_params  # 30 layers vs 3
    assert a.activations > b.activations


def _measure(case: str, cache: Path | None = None):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import memory as bench
    finally:
        sys.path.pop(0)
    # Two steps: the optimizer's state exists from the second on, when the peak is reached
    # (SmolLM2's ratio is 0.934 after two steps and 0.93 after three).
    return bench.measure(case, steps=2, cache=cache)


@pytest.mark.parametrize("case", ["tiny", "small-ckpt", "tiny-dpo", "tiny-orpo"])
def test_estimate_within_25_percent_of_measured_peak(case: str):
    result = _measure(case)
    assert 0.75 <= result["estimate"] / result["measured"] <= 1.25, result


@pytest.mark.slow
def test_estimate_within_25_percent_of_measured_peak_smollm2(smollm2_cache: Path):
    result = _measure("smollm2", smollm2_cache)
    assert 0.75 <= result["estimate"] / result["measured"] <= 1.25, result


def test_cpu_runs_quantize_too():
    """bitsandbytes quantizes on CPU as well (`--local` with quantization.mode 4bit)."""
    four = estimate(config(quant="4bit"), SMOL, gpu=None)
    none = estimate(config(quant="none"), SMOL, gpu=None)
    assert four.precision == "fp32" and four.weights < none.weights


def test_dpo_doubles_the_sequences_and_adds_only_the_reference_log_probs():
    sft = estimate(config(batch_size=4, max_length=1024), PHI3, gpu="A100")
    dpo = estimate(config(batch_size=4, max_length=1024, method="dpo"), PHI3, gpu="A100")
    double = estimate(config(batch_size=8, max_length=1024), PHI3, gpu="A100")
    assert dpo.weights == sft.weights  # the reference is the base, adapter disabled: no copy
    assert dpo.lora == sft.lora
    assert dpo.activations == double.activations == 2 * sft.activations  # chosen + rejected
    assert dpo.loss == double.loss + 8 * 1024 * 4  # plus the reference's fp32 log-probs


def test_orpo_pays_for_the_full_logits():
    dpo = estimate(config(batch_size=4, max_length=1024, method="dpo"), PHI3, gpu="A100")
    orpo = estimate(config(batch_size=4, max_length=1024, method="orpo"), PHI3, gpu="A100")
    assert orpo.activations == dpo.activations
    logits = 8 * 1024 * PHI3.vocab * 2  # bf16 on an A100
    assert orpo.loss > 2 * logits > dpo.loss


@pytest.mark.parametrize("model", [m.id for m in MODELS])
def test_what_the_catalog_says_fits_with_dpo_fits_by_the_estimate(model: str):
    from cli.doctor.run_checks import GPU_MEMORY_MIB, TIGHT
    from training.spec.catalog import find

    entry = find(model)
    assert entry is not None and entry.dpo_fits and "DPO" in entry.dpo_note
    for gpu, length, pairs in entry.dpo_fits:
        cfg = config(batch_size=pairs, max_length=length, method="dpo")
        est = estimate(cfg, KNOWN_SHAPES[entry.hf_id], gpu=gpu)
        assert est.total <= TIGHT * GPU_MEMORY_MIB[gpu] * 1024**2, (model, gpu, est.describe())
