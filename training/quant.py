"""Quantization helpers: the bitsandbytes config for 4-bit NF4 (double quant), 8-bit, or none."""

from __future__ import annotations

import importlib.util

import torch

from training.hardware import Hardware
from training.spec.config import QuantizationSection
from training.spec.errors import UserError


def bnb_config(quant: QuantizationSection, dtype: torch.dtype, hw: Hardware):
    """A `BitsAndBytesConfig` for `quant.mode`, or None for `none`."""
    if quant.mode == "none":
        return None
    if importlib.util.find_spec("bitsandbytes") is None:
        raise UserError(
            f"quantization.mode {quant.mode} needs bitsandbytes (pip install 'ftk[train]'), "
            "or set quantization.mode: none"
        )
    from transformers import BitsAndBytesConfig

    if quant.mode == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant.quant_type,
        bnb_4bit_use_double_quant=quant.double_quant,
        bnb_4bit_compute_dtype=dtype,
        bnb_4bit_quant_storage=torch.uint8,
    )


def device_map(hw: Hardware, local_rank: int | None = None) -> dict[str, int | str] | str:
    """The whole model on the one device. Data parallel (`local_rank` given): on this process's
    own GPU. One process and several GPUs: split across them."""
    if local_rank is not None:
        return {"": local_rank if hw.cuda else "cpu"}
    if hw.gpu_count > 1:
        return "auto"
    return {"": 0 if hw.cuda else "cpu"}
