"""Will a training config fit a device? A peak-memory estimate for QLoRA / LoRA training (no torch).

The estimate adds five parts, each documented with its formula in docs/doctor.md:

- weights: the frozen base model at the config's quantization (NF4 ~0.5 byte per parameter plus
  its block constants; 8-bit 1 byte; none: the load precision). Embeddings, the LM head and the
  norms stay unquantized, in fp32 once `prepare_model_for_kbit_training` has cast them.
- lora: the adapter's parameters, their gradients and the optimizer's states.
- activations: what autograd keeps for the backward pass, per token and per layer that LoRA (or a
  layer above it) touches; with gradient checkpointing only each layer's input plus one layer.
- loss: TRL computes the SFT loss without holding [tokens x vocab] logits: one reused
  [min(tokens, 4096) x 32768] tile in the compute dtype, the hidden states' fp32 gradient, and on
  CPU (no Triton) a few fp32 temporaries of the tile's used width.
- overhead: the CUDA context and the allocator's slack on a GPU; nothing on CPU.

Preference tuning (`train.method`): a DPO or ORPO step runs the policy over chosen and rejected
together, so `batch_size` pairs are 2 x batch_size sequences and the activation and loss terms
double. DPO adds the reference pass (the base with the adapter disabled: no second copy of the
weights); it runs without gradients, so it keeps no activations, only its per-token
log-probabilities (fp32, one per token), and like the policy it computes them in TRL's tiles
(`add_fused_lm_head`). ORPO (trl.experimental.orpo) materialises the full [2 x batch x length x
vocab] logits, their gradient and the fp32 log-softmax of the cross-entropy on the chosen half:
its loss term is the logits', not the tile's.

The formula is checked against measured peaks on CPU (benchmarks/memory.py: the tiny test model,
a wider random Llama with gradient checkpointing and SmolLM2-135M, fp32: all within 25%); the GPU
terms (bf16/fp16 widths, NF4, CUDA context) are unverified until a GPU run measures them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from training.spec.catalog import find as find_catalog_model
from training.spec.catalog import target_modules_for
from training.spec.config import TrainingConfig
from training.spec.methods import DPO, ORPO, PREFERENCE_METHODS

GIB = 1024**3
# bitsandbytes NF4/FP4: 4 bits per weight, one absmax per block of 64; with double quantization the
# absmax is 8-bit with one fp32 constant per 256 blocks (QLoRA paper, section 2).
NF4_BYTES = 0.5
NF4_CONSTANTS = 4 / 64
NF4_CONSTANTS_DOUBLE = 1 / 64 + 4 / (64 * 256)
INT8_BYTES = 1.0 + 4 / 4096  # LLM.int8(): one fp32 scale per row; rows are thousands wide
# CUDA context (driver, cuBLAS/cuDNN workspaces) plus allocator slack: a common measured range is
# 0.5-1.5 GiB; 1 GiB is taken (unverified here: no GPU).
CUDA_OVERHEAD = 1 * GIB
CUDA_SLACK = 0.05  # fraction of the tensors lost to fragmentation in PyTorch's caching allocator
# Values kept for backward per token and layer (Llama-shaped blocks, frozen base + LoRA).
ACTIVATION_PER_HIDDEN = 14  # values kept per token per layer, in units of the hidden size
ACTIVATION_PER_INTERMEDIATE = 5  # ... and of the MLP's intermediate size
# TRL's chunked log-prob loss (trl/kernels/chunked_logprob.py, trl/trainer/utils.py, trl 1.x).
LOSS_TOKEN_TILE = 4096
LOSS_VOCAB_TILE = 32768
LOSS_CPU_TEMPORARIES = 5  # fp32 tile-sized temporaries of the torch fallback (CPU)

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class ModelShape:
    """The few numbers of a decoder-only transformer that decide its memory."""

    vocab: int
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    tied_embeddings: bool
    model_type: str = "llama"

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each projection in one layer, by the Llama module names."""
        h, i, kv = self.hidden, self.intermediate, self.kv_heads * self.head_dim
        return {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def layer_linear_params(self) -> int:
        return sum(a * b for a, b in self.linear_shapes().values())

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def norm_params(self) -> int:
        return (2 * self.layers + 1) * self.hidden

    @property
    def params(self) -> int:
        return self.layers * self.layer_linear_params + self.embedding_params + self.norm_params


# Shapes of the catalog's models, from each model's config.json on the Hugging Face Hub, so the
# estimate works before anything is downloaded.
KNOWN_SHAPES: dict[str, ModelShape] = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": ModelShape(49152, 576, 30, 1536, 9, 3, True),
    "Qwen/Qwen2.5-0.5B-Instruct": ModelShape(151936, 896, 24, 4864, 14, 2, True, "qwen2"),
    "microsoft/Phi-3-mini-4k-instruct": ModelShape(32064, 3072, 32, 8192, 32, 32, False, "phi3"),
    "microsoft/Phi-3.5-mini-instruct": ModelShape(32064, 3072, 32, 8192, 32, 32, False, "phi3"),
    "mistralai/Mistral-7B-Instruct-v0.3": ModelShape(
        32768, 4096, 32, 14336, 32, 8, False, "mistral"
    ),
    "meta-llama/Meta-Llama-3-8B-Instruct": ModelShape(128256, 4096, 32, 14336, 32, 8, False),
}


def shape_from_config(config: dict[str, Any]) -> ModelShape:
    """A `ModelShape` from a transformers `config.json` (text config of multimodal ones)."""
    config = config.get("text_config") or config
    heads = int(config["num_attention_heads"])
    return ModelShape(
        vocab=int(config["vocab_size"]),
        hidden=int(config["hidden_size"]),
        layers=int(config["num_hidden_layers"]),
        intermediate=int(config.get("intermediate_size") or 4 * int(config["hidden_size"])),
        heads=heads,
        kv_heads=int(config.get("num_key_value_heads") or heads),
        tied_embeddings=bool(config.get("tie_word_embeddings", False)),
        model_type=str(config.get("model_type", "llama")),
    )


def find_shape(model: str, folders: list[Path] | None = None) -> ModelShape | None:
    """The shape of `model`: its config.json in a local folder or model cache, else the table."""
    for folder in folders or []:
        config = folder / "config.json"
        if config.is_file():
            try:
                return shape_from_config(json.loads(config.read_text()))
            except (ValueError, KeyError, TypeError):
                continue
    entry = find_catalog_model(model)
    return KNOWN_SHAPES.get(entry.hf_id if entry else model)


def resolve_precision(precision: str, gpu: str | None) -> str:
    """`auto` made concrete as training does: bf16 on an A100, fp16 on a T4, fp32 on CPU."""
    if precision != "auto":
        return precision
    if gpu is None:
        return "fp32"
    return "fp16" if gpu.upper() == "T4" else "bf16"


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak bytes of one training process, by part."""

    weights: int
    lora: int
    activations: int
    loss: int
    overhead: int
    lora_params: int
    precision: str

    @property
    def total(self) -> int:
        return self.weights + self.lora + self.activations + self.loss + self.overhead

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total}

    def describe(self) -> str:
        parts = ("weights", "lora", "activations", "loss", "overhead")
        shown = ", ".join(f"{p} {getattr(self, p) / GIB:.2f}" for p in parts if getattr(self, p))
        return f"{self.total / GIB:.1f} GiB ({shown} GiB)"


def _lora_modules(config: TrainingConfig, shape: ModelShape) -> list[str]:
    wanted = config.lora.target_modules
    if isinstance(wanted, tuple):
        names = wanted
    elif wanted == "auto":
        names = target_modules_for(shape.model_type) or ALL_LINEAR
    else:
        names = ALL_LINEAR  # "all-linear" or a regex: count every projection
    # Phi-3 fuses q/k/v and gate/up; its adapters cover the same in/out sizes.
    fused = {"qkv_proj": ("q_proj", "k_proj", "v_proj"), "gate_up_proj": ("gate_proj", "up_proj")}
    out: list[str] = []
    for name in names:
        out.extend(fused.get(name, (name,)))
    return [n for n in out if n in shape.linear_shapes()]


def _lora_params(config: TrainingConfig, shape: ModelShape, layers: int) -> int:
    r = config.lora.r
    sizes = shape.linear_shapes()
    per_layer = sum(r * (sizes[m][0] + sizes[m][1]) for m in _lora_modules(config, shape))
    return per_layer * layers


def estimate(
    config: TrainingConfig,
    shape: ModelShape,
    *,
    gpu: str | None,
    precision: str | None = None,
) -> MemoryEstimate:
    """Peak memory of training `config` on `shape`: `gpu` "A100"/"T4", or None for CPU."""
    t = config.train
    precision = precision or resolve_precision(t.precision, gpu)
    act_bytes = 4 if precision == "fp32" else 2
    quant = config.quantization.mode  # bitsandbytes quantizes on CPU too

    # -- frozen weights
    linear = shape.layers * shape.layer_linear_params
    others = shape.embedding_params + shape.norm_params
    if quant == "4bit":
        per = NF4_BYTES + (
            NF4_CONSTANTS_DOUBLE if config.quantization.double_quant else NF4_CONSTANTS
        )
        weights = linear * per + others * 4  # kbit preparation casts the rest to fp32
    elif quant == "8bit":
        weights = linear * INT8_BYTES + others * 4
    else:
        weights = (linear + others) * act_bytes

    # -- the adapter: params + grads in fp32 (bf16 under bf16), Adam's two states
    lora_layers = min(config.lora.last_layers or shape.layers, shape.layers)
    lora_params = _lora_params(config, shape, lora_layers)
    param_bytes = 2 if precision == "bf16" else 4
    state_bytes = 2 if "8bit" in t.optimizer else 2 * param_bytes
    lora = lora_params * (2 * param_bytes + state_bytes)

    # -- activations kept for backward, in the layers backward passes through
    sequences = t.batch_size * (2 if t.method in PREFERENCE_METHODS else 1)  # chosen + rejected
    tokens = sequences * t.max_length
    per_layer = (
        ACTIVATION_PER_HIDDEN * shape.hidden + ACTIVATION_PER_INTERMEDIATE * shape.intermediate
    )
    if config.model.attn_implementation == "eager":
        per_layer += 2 * shape.heads * t.max_length  # the attention matrix and its softmax
    if t.gradient_checkpointing:
        activations = tokens * act_bytes * (lora_layers * shape.hidden + per_layer)
    else:
        activations = tokens * act_bytes * lora_layers * per_layer

    # -- loss: TRL's tile buffer, the fp32 gradient of the hidden states, CPU temporaries
    tile_tokens = min(tokens, LOSS_TOKEN_TILE)
    loss = tile_tokens * LOSS_VOCAB_TILE * act_bytes + tokens * shape.hidden * 4
    if gpu is None:
        width = min(shape.vocab, LOSS_VOCAB_TILE)
        loss += tile_tokens * width * 4 * LOSS_CPU_TEMPORARIES
    if t.method == DPO:
        loss += tokens * 4  # the reference's per-token log-probabilities
    elif t.method == ORPO:
        # full logits and their gradient in the compute dtype, the chosen half's fp32 log-softmax
        loss = tokens * shape.vocab * 2 * act_bytes + (tokens // 2) * shape.vocab * 4
        loss += tokens * shape.hidden * 4

    tensors = weights + lora + activations + loss
    overhead = CUDA_OVERHEAD + tensors * CUDA_SLACK if gpu is not None else 0
    return MemoryEstimate(
        weights=int(weights),
        lora=int(lora),
        activations=int(activations),
        loss=int(loss),
        overhead=int(overhead),
        lora_params=lora_params,
        precision=precision,
    )
