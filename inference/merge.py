"""`python -m inference merge`: fold a LoRA adapter into its base, save plain safetensors.

The merge runs in float32 on CPU (exact, and no GPU needed); the weights are then saved in the
requested dtype (by default the base model's own), with the tokenizer and generation config, so
the folder loads with `AutoModelForCausalLM.from_pretrained` alone, without peft.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from inference.models import AdapterSpec, ModelError, resolve_base
from inference.settings import MergeSettings

log = logging.getLogger("inference")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def merge(settings: MergeSettings) -> Path:
    """Merge `settings.adapter` into `settings.base`; returns the output folder."""
    if not settings.base:
        raise ModelError("no base model: pass --base MODEL or set FTK_BASE_MODEL")
    out = settings.out.expanduser()
    if out.exists() and any(out.iterdir()):
        raise ModelError(f"output folder {out} is not empty; choose a new one")
    adapter = AdapterSpec.parse(settings.adapter)
    adapter.validate()
    base_path = resolve_base(settings.base, settings.resolved_model_cache())

    import torch
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    own_dtype = getattr(AutoConfig.from_pretrained(base_path), "dtype", None) or torch.float32
    if isinstance(own_dtype, str):
        own_dtype = getattr(torch, own_dtype)
    target = own_dtype if settings.dtype == "auto" else getattr(torch, settings.dtype)

    log.info("merging %s into %s", adapter.path, base_path)
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, adapter.path).merge_and_unload()
    merged = merged.to(target)
    # Trained adapters may carry their own tokenizer (chat template, added tokens); prefer it.
    has_tokenizer = any((adapter.path / f).is_file() for f in _TOKENIZER_FILES)
    tokenizer = AutoTokenizer.from_pretrained(adapter.path if has_tokenizer else base_path)

    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    merged.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    if out.exists():
        out.rmdir()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(out)
    log.info("merged model written to %s (%s)", out, str(target).removeprefix("torch."))
    return out
