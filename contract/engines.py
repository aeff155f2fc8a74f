"""What each serving engine can load: the CLI warns before training (`ftk run`), and the vLLM app
refuses at start (`inference.vllm_app`), from the same rule.

vLLM: `--max-lora-rank` takes only `MaxLoRARanks` (vllm-project/vllm `vllm/config/lora.py`, read
2026-12-05), and LoRA bias support was removed (vllm-project/vllm PR #25807, merged 2025-10), so
an adapter that trains biases (PEFT `bias` other than "none", or `lora_bias`) cannot be served.
The transformers engine (peft) loads any LoRA adapter training writes.
"""

from __future__ import annotations

from typing import Final

VLLM: Final = "vllm"
TRANSFORMERS: Final = "transformers"
VLLM_MAX_LORA_RANKS: Final = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def vllm_lora_rank(rank: int) -> int | None:
    """The smallest `--max-lora-rank` that holds rank `rank`; None above vLLM's largest."""
    return next((allowed for allowed in VLLM_MAX_LORA_RANKS if rank <= allowed), None)


def vllm_lora_problem(rank: int, bias: str = "none", lora_bias: bool = False) -> str | None:
    """Why vLLM cannot serve a LoRA adapter of this rank and bias setting, or None if it can."""
    if vllm_lora_rank(rank) is None:
        return f"LoRA rank {rank} is above the {VLLM_MAX_LORA_RANKS[-1]} vLLM serves"
    if bias != "none" or lora_bias:
        return f"vLLM serves no LoRA bias (bias: {bias!r}{', lora_bias' if lora_bias else ''})"
    return None
