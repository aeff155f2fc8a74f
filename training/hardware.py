"""What the training device can do: CUDA or CPU, bf16 support, memory; and the precision to use."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import torch

from training.spec.config import QuantizationSection, TrainSection
from training.spec.errors import UserError


@dataclass(frozen=True)
class Hardware:
    """The device training runs on."""

    device: str  # "cuda" | "cpu"
    name: str
    capability: tuple[int, int] | None = None
    gpu_count: int = 0

    @property
    def cuda(self) -> bool:
        return self.device == "cuda"

    @property
    def bf16(self) -> bool:
        """bf16 tensor cores: Ampere (8.0) or newer."""
        return bf16_capable(self.capability)


def bf16_capable(capability: tuple[int, int] | None) -> bool:
    """bfloat16 is worth using from compute capability 8.0 (Ampere's bf16 tensor cores). Not
    `torch.cuda.is_bf16_supported()`: it answers True on a T4 (7.5), where bf16 is emulated
    without tensor cores and attention falls back to the math kernel."""
    return capability is not None and tuple(capability) >= (8, 0)


def model_dtype(device: str) -> torch.dtype:
    """The dtype to load a model in for generation (the inference server and `ftk eval`):
    float32 on CPU; on CUDA bfloat16 from compute capability 8.0, else float16."""
    if not device.startswith("cuda"):
        return torch.float32
    capability = torch.cuda.get_device_capability(torch.device(device).index or 0)
    return torch.bfloat16 if bf16_capable(capability) else torch.float16


def detect() -> Hardware:
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return Hardware(
            "cuda",
            props.name,
            (props.major, props.minor),
            gpu_count=torch.cuda.device_count(),
        )
    return Hardware("cpu", "cpu")


def resolve_precision(train: TrainSection, hw: Hardware) -> str:
    """`train.precision` made concrete: bf16 on Ampere+, fp16 on older GPUs, fp32 on CPU."""
    wanted = train.precision
    if wanted == "auto":
        if not hw.cuda:
            return "fp32"
        return "bf16" if hw.bf16 else "fp16"
    if wanted == "bf16" and hw.cuda and not hw.bf16:
        major, minor = hw.capability or (0, 0)
        raise UserError(
            f"train.precision bf16 needs an Ampere or newer GPU; {hw.name} has compute capability "
            f"{major}.{minor}: use fp16 (or auto)"
        )
    if wanted == "fp16" and not hw.cuda:
        raise UserError("train.precision fp16 needs a CUDA GPU; use fp32 (or auto) on CPU")
    return wanted


def check_attention(name: str | None, hw: Hardware, precision: str) -> None:
    """Refuse `model.attn_implementation` values this device cannot run, before the model loads.

    An error rather than a quiet fallback to sdpa: the user asked for flash attention by name, and
    sdpa needs more memory at long sequence lengths, so a run sized for it could fail with out of
    memory later, on a paid GPU. Failing here costs seconds and says what to change.
    """
    if name != "flash_attention_2":
        return
    fix = "set model.attn_implementation to sdpa (or null)"
    if not hw.cuda:
        raise UserError(f"model.attn_implementation flash_attention_2 needs a CUDA GPU: {fix}")
    if not hw.bf16:
        major, minor = hw.capability or (0, 0)
        raise UserError(
            f"model.attn_implementation flash_attention_2 needs an Ampere or newer GPU; {hw.name} "
            f"has compute capability {major}.{minor}: {fix}"
        )
    if precision not in ("bf16", "fp16"):
        raise UserError(
            f"model.attn_implementation flash_attention_2 needs bf16 or fp16 precision, not "
            f"{precision}: {fix}"
        )
    if importlib.util.find_spec("flash_attn") is None:
        raise UserError(
            "model.attn_implementation flash_attention_2 needs the flash-attn package, which is "
            f"not installed here: {fix}"
        )


def compute_dtype(quant: QuantizationSection, precision: str, hw: Hardware) -> torch.dtype:
    """The dtype 4-bit layers compute in: follows the precision unless set explicitly."""
    name = quant.compute_dtype
    if name == "auto":
        name = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[precision]
    if name == "bfloat16" and hw.cuda and not hw.bf16:
        raise UserError(
            f"quantization.compute_dtype bfloat16 is not supported on {hw.name}; use float16"
        )
    return getattr(torch, name)


def load_dtype(precision: str) -> torch.dtype:
    """The dtype for the frozen, non-quantized base weights."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def peak_memory_bytes(hw: Hardware) -> int:
    """Peak GPU memory allocated, or the process's peak resident memory on CPU."""
    if hw.cuda:
        return int(torch.cuda.max_memory_allocated())
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
