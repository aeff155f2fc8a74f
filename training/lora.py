"""The LoRA helper: a PEFT `LoraConfig` with per-architecture default target modules."""

from __future__ import annotations

from peft import LoraConfig

from training.spec.catalog import target_modules_for
from training.spec.config import LoraSection


def target_modules(section: LoraSection, model_type: str) -> str | list[str]:
    """`auto`: the architecture's attention and MLP projections (all linear layers if unknown)."""
    if isinstance(section.target_modules, tuple):
        return list(section.target_modules)
    if section.target_modules == "auto":
        known = target_modules_for(model_type)
        return list(known) if known else "all-linear"
    return section.target_modules


def lora_config(section: LoraSection, model_type: str, num_layers: int | None) -> LoraConfig:
    """`last_layers` limits LoRA to the top layers, so backward stops there (much faster on CPU)."""
    layers = None
    if section.last_layers and num_layers and section.last_layers < num_layers:
        layers = list(range(num_layers - section.last_layers, num_layers))
    return LoraConfig(
        r=section.r,
        lora_alpha=section.alpha,
        lora_dropout=section.dropout,
        bias=section.bias,
        target_modules=target_modules(section, model_type),
        layers_to_transform=layers,
        task_type="CAUSAL_LM",
    )
