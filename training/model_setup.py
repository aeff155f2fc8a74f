"""Model and tokenizer for a run: the base (4-bit when quantizing), made ready for k-bit training,
wrapped in the run's LoRA adapter. The first of `training.train`'s three parts.

Broken model files are the user's to fix: one `UserError` naming the folder, not a traceback.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from training.distributed import world
from training.spec import paths
from training.spec.config import TrainingConfig
from training.spec.errors import UserError


def load_model(config: TrainingConfig, ref, workspace: Path, hw, precision: str, lora: bool = True):
    """The model (wrapped in the run's LoRA unless `lora` is false: DPOTrainer wraps it itself,
    so that its reference is the base with the adapter disabled) and its tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training import hardware, models, quant

    path = ref.path or models.resolve_model(ref.name, paths.model_cache(workspace))
    trust = config.model.trust_remote_code
    with _model_files(path):
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = hardware.compute_dtype(config.quantization, precision, hw)
    bnb = quant.bnb_config(config.quantization, dtype, hw)
    kwargs: dict[str, Any] = {"dtype": hardware.load_dtype(precision), "trust_remote_code": trust}
    if config.model.attn_implementation:
        kwargs["attn_implementation"] = config.model.attn_implementation
    if bnb is not None:
        kwargs["quantization_config"] = bnb
    here = world()
    if bnb is not None or (hw.gpu_count > 1 and not here.distributed):
        # Data parallel: each process's (4-bit) model on its own GPU, never split across them.
        kwargs["device_map"] = quant.device_map(hw, here.local_rank if here.distributed else None)
    with _model_files(path):
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if config.train.gradient_checkpointing:
        model.config.use_cache = False
    if bnb is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=config.train.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    return (with_lora(config, model) if lora else model), tokenizer


@contextlib.contextmanager
def _model_files(path: Path):
    """Unreadable or corrupt model files (a truncated safetensors, no tokenizer, a config.json
    without model_type) are the user's to fix: one error naming the folder, not a traceback.
    transformers raises ValueError or OSError for these; only the loading calls are wrapped."""
    from safetensors import SafetensorError

    try:
        yield
    except (OSError, ValueError, SafetensorError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot load the model in {path}: {first}") from None


def peft_config(config: TrainingConfig, model):
    """The run's PEFT `LoraConfig` for this model's architecture and depth."""
    from training.lora import lora_config

    num_layers = getattr(model.config.get_text_config(), "num_hidden_layers", None)
    return lora_config(config.lora, model.config.model_type, num_layers)


def with_lora(config: TrainingConfig, model):
    from peft import get_peft_model

    try:
        return get_peft_model(model, peft_config(config, model))
    except ValueError as exc:
        raise UserError(f"lora.target_modules: {exc}") from None
