"""Server settings: one typed object read from flags, then env, then defaults (pydantic-settings).

Every option is declared once here; `inference.cli` builds the `serve` flags from these fields.
Env names follow docs/architecture.md: `FTK_BASE_MODEL`, `FTK_ADAPTER`, `PORT`, `FTK_MODEL_CACHE`,
and the API key itself from the variable named by `api_key_env` (default `FTK_API_KEY`). The other
knobs read `FTK_<FIELD>` (for example `FTK_MAX_QUEUE`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict

from contract import env as ftk_env
from contract.layout import MODEL_CACHE_DIR

DEFAULT_API_KEY_ENV = ftk_env.API_KEY


class _EnvWithoutKey(EnvSettingsSource):
    """The env source, except `api_key`: the key is read from the variable `api_key_env` names."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field_name == "api_key":
            return None, field_name, False
        return super().get_field_value(field, field_name)


# Fields both commands take, defined once so their env names and help agree.
BaseModelField = Annotated[
    str | None,
    Field(
        validation_alias=ftk_env.BASE_MODEL,
        description="Base model: a local folder or a model id resolved through the model cache.",
    ),
]
ModelCacheField = Annotated[
    Path | None,
    Field(
        validation_alias=ftk_env.MODEL_CACHE,
        description="Model cache folder for model ids (default: ./model-cache).",
    ),
]


class _FtkSettings(BaseSettings):
    """Settings read from flags first, then `FTK_*` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="FTK_", populate_by_name=True, extra="ignore", frozen=True
    )


class ServerSettings(_FtkSettings):
    """What `python -m inference serve` needs: the model, the adapters, the HTTP server, limits."""

    base: BaseModelField = None
    adapter: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=ftk_env.ADAPTER,
        description="LoRA adapter as [NAME=]PATH; repeat the flag (or comma-separate in env).",
    )
    host: str = Field(default="0.0.0.0", description="Interface to listen on.")
    port: int = Field(
        default=8000, ge=0, le=65535, validation_alias=ftk_env.PORT, description="Port."
    )
    api_key_env: str = Field(
        default=DEFAULT_API_KEY_ENV,
        description="Name of the env variable holding the API key (no key: no authentication).",
    )
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    model_cache: ModelCacheField = None
    engine: Literal["transformers"] = Field(
        default="transformers", description="Generation engine."
    )
    load_in_4bit: bool = Field(
        default=False, description="Load the base model in 4-bit NF4 (CUDA only)."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description="Weights dtype when not 4-bit; auto = bfloat16 on CUDA from compute "
        "capability 8.0 (float16 below, e.g. a T4), float32 on CPU.",
    )
    device: str = Field(default="auto", description="auto, cpu, cuda or cuda:N.")
    context_length: int | None = Field(
        default=None, ge=16, description="Override the model's context length (tokens)."
    )
    max_tokens_limit: int = Field(
        default=4096, ge=1, description="Largest max_tokens a request may ask for."
    )
    default_max_tokens: int = Field(
        default=512, ge=1, description="max_tokens when a request leaves it out."
    )
    max_queue: int = Field(
        default=64, ge=0, description="Requests waiting beyond the running ones; more get 503."
    )
    max_batch: int = Field(
        default=16,
        ge=1,
        le=256,
        description="Requests generated together (continuous batching); 1 = one at a time.",
    )
    kv_cache_tokens: int | None = Field(
        default=None,
        ge=256,
        description="Tokens the batch's paged KV cache holds (all running requests together); "
        "unset: sized from the free GPU memory on CUDA, 32768 on CPU.",
    )
    kv_cache_memory: float | None = Field(
        default=None,
        gt=0,
        le=0.95,
        description="Share of the free memory the KV cache and its working tensors may take; "
        "unset: transformers' default (0.8 on CUDA).",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body accepted (bytes)."
    )
    ui: bool = Field(default=True, description="Serve the Gradio chat UI at /.")
    # Not a flag: what the chat page's sign-in form says the key is (`ftk ui` has its own).
    sign_in_note: str = Field(default="This server needs its API key.", exclude=True)
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Server log level."
    )

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return init_settings, _EnvWithoutKey(settings_cls)

    @field_validator("adapter", mode="before")
    @classmethod
    def _split_adapters(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        parts = [p.strip() for item in value for p in str(item).split(",")]
        return [p for p in parts if p]

    @field_validator("base", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _read_key(self) -> ServerSettings:
        if self.api_key is None:
            value = os.environ.get(self.api_key_env, "")
            if value:
                object.__setattr__(self, "api_key", SecretStr(value))
        elif not self.api_key.get_secret_value():
            object.__setattr__(self, "api_key", None)
        return self

    def resolved_model_cache(self) -> Path:
        return self.model_cache or Path(MODEL_CACHE_DIR)


class MergeSettings(_FtkSettings):
    """What `python -m inference merge` needs."""

    base: BaseModelField = None
    adapter: str = Field(description="The LoRA adapter folder to merge into the base.")
    out: Path = Field(description="Output folder (safetensors weights + tokenizer).")
    model_cache: ModelCacheField = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description="dtype of the saved weights; auto = the base model's own (merged in float32).",
    )

    def resolved_model_cache(self) -> Path:
        return self.model_cache or Path(MODEL_CACHE_DIR)
