"""What a training config is: its frozen, typed dataclasses (no torch, no parsing).

Sections `model`, `data`, `lora`, `quantization`, `train`, `output`, `tracking`. Every key, its
type and its default live here and only here (`training/README.md` shows them; a test keeps the
two in step). `training.spec.config` reads a file into these (through the checks of
`training.spec.config_checks`, which build on this module); a problem the user can fix is a
`ConfigError` naming the key, its section and the line in the file.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.spec.errors import UserError

TEMPLATE_FIELD = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
# No count or size in a config comes near this; larger values overflow C ints in torch and numpy.
INT_LIMIT = 2**31 - 1
SEED_MAX = 2**32 - 1  # the seeds numpy and torch accept: 0 .. 2**32-1
# A fixed bound, so a laptop's validation and the job's GPU machine agree; ACA's largest GPU
# profile has 96 vCPUs. torch.set_num_threads(10**9) crashes the process.
MAX_THREADS = 256


class ConfigError(UserError, ValueError):
    """A problem with the training config that the user can fix; the message names the key."""

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.key = key
        self.line = line

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.message}{where}"


def _choices(*values: str) -> dict[str, Any]:
    return {"choices": values}


def _range(low: int, high: int) -> dict[str, Any]:
    return {"range": (low, high)}


@dataclass(frozen=True)
class ModelSection:
    """The base model."""

    name: str = ""
    trust_remote_code: bool = False
    attn_implementation: str | None = field(
        default=None, metadata=_choices("eager", "sdpa", "flash_attention_2")
    )


@dataclass(frozen=True)
class DataSection:
    """Training and eval data, and how it is turned into token sequences."""

    train_file: str = ""
    eval_file: str | None = None
    eval_split: float = 0.0
    format: str = field(
        default="auto",
        metadata=_choices("auto", "messages", "prompt_completion", "text", "template"),
    )
    text_cols: tuple[str, ...] | None = None
    text_template: str | None = None
    completion_only_loss: bool = True


@dataclass(frozen=True)
class LoraSection:
    """The LoRA adapter."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | tuple[str, ...] = "auto"
    bias: str = field(default="none", metadata=_choices("none", "all", "lora_only"))
    last_layers: int | None = None


@dataclass(frozen=True)
class QuantizationSection:
    """How the frozen base weights are stored while training."""

    mode: str = field(default="4bit", metadata=_choices("4bit", "8bit", "none"))
    quant_type: str = field(default="nf4", metadata=_choices("nf4", "fp4"))
    double_quant: bool = True
    compute_dtype: str = field(
        default="auto", metadata=_choices("auto", "bfloat16", "float16", "float32")
    )


@dataclass(frozen=True)
class TrainSection:
    """Trainer knobs (mapped onto TRL's SFTConfig, DPOConfig or ORPOConfig by `method`)."""

    learning_rate: float = 2e-4
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 4
    eval_batch_size: int | None = None
    gradient_accumulation_steps: int = 1
    max_length: int = 1024
    packing: bool = False
    gradient_checkpointing: bool = True
    optimizer: str = "adamw_torch"
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    precision: str = field(default="auto", metadata=_choices("auto", "bf16", "fp16", "fp32"))
    seed: int = field(default=42, metadata=_range(0, SEED_MAX))
    logging_steps: int = 10
    eval_steps: int | None = None
    save_steps: int = 100
    save_total_limit: int | None = 2
    num_threads: int | None = field(default=None, metadata=_range(1, MAX_THREADS))
    # Preference tuning (training.spec.methods): which trainer, and the knobs only dpo/orpo read.
    method: str = field(default="sft", metadata=_choices("sft", "dpo", "orpo"))
    beta: float | None = None
    loss_type: str | None = field(
        default=None, metadata=_choices("sigmoid", "hinge", "ipo", "robust")
    )
    label_smoothing: float | None = None


@dataclass(frozen=True)
class OutputSection:
    """Where the run's files go."""

    dir: str | None = None


@dataclass(frozen=True)
class TrackingSection:
    """Where the run is also logged, through transformers' own `report_to` (`training.tracking`)."""

    backend: str = field(
        default="mlflow", metadata=_choices("mlflow", "tensorboard", "wandb", "none")
    )
    experiment: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class TrainingConfig:
    """A whole training config; `source` is the file it came from (None when built in code)."""

    model: ModelSection
    data: DataSection
    lora: LoraSection = field(default_factory=LoraSection)
    quantization: QuantizationSection = field(default_factory=QuantizationSection)
    train: TrainSection = field(default_factory=TrainSection)
    output: OutputSection = field(default_factory=OutputSection)
    tracking: TrackingSection = field(default_factory=TrackingSection)
    source: Path | None = None


SECTIONS: dict[str, type] = {
    "model": ModelSection,
    "data": DataSection,
    "lora": LoraSection,
    "quantization": QuantizationSection,
    "train": TrainSection,
    "output": OutputSection,
    "tracking": TrackingSection,
}
REQUIRED: dict[str, tuple[str, ...]] = {"model": ("name",), "data": ("train_file",)}


def to_dict(config: TrainingConfig) -> dict[str, dict[str, Any]]:
    """The config as plain YAML-ready data (tuples become lists), without `source`."""
    out: dict[str, dict[str, Any]] = {}
    for name in SECTIONS:
        section = dataclasses.asdict(getattr(config, name))
        out[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}
    return out


def defaults() -> dict[str, dict[str, Any]]:
    """Every key of every section with its default (required keys show as empty strings)."""
    out: dict[str, dict[str, Any]] = {}
    for name, cls in SECTIONS.items():
        out[name] = {}
        for f in dataclasses.fields(cls):
            value = f.default
            out[name][f.name] = list(value) if isinstance(value, tuple) else value
    return out
