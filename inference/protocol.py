"""OpenAI chat-completions wire format: request and response models with shared, bounded fields.

Unknown request fields are ignored (clients send many optional ones); OpenAI fields we cannot
honour (`n` > 1, tools, functions, logprobs, response_format, logit_bias, tool_choice, penalties)
are rejected with a clear 400 naming the field instead of being silently dropped, unless their
value asks for nothing (`logprobs: false`, `response_format: {"type": "text"}`, `{}`, `[]`, 0).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)


def _valid_unicode(value: str) -> str:
    """JSON may carry lone UTF-16 surrogates (`"\\ud800"`); no tokenizer can use them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"invalid text: a lone UTF-16 surrogate at character {exc.start}"
        ) from None
    return value


# Every string a request carries: valid Unicode, else a 400 naming the field.
Text = Annotated[str, AfterValidator(_valid_unicode)]

# Shared fields: validation and the OpenAPI docs agree, and the UI uses the same bounds.
TEMPERATURE_MAX = 2.0
temperature_field = Field(
    default=1.0,
    ge=0.0,
    le=TEMPERATURE_MAX,
    description="Sampling temperature; 0 means greedy decoding.",
)
top_p_field = Field(
    default=1.0, gt=0.0, le=1.0, description="Nucleus sampling: keep the smallest top-p mass."
)
top_k_field = Field(
    default=None, ge=0, le=1000, description="Keep only the k most likely tokens (0: no limit)."
)
max_tokens_field = Field(
    default=None,
    ge=1,
    le=1_000_000,
    description="Most new tokens to generate; bounded by the context and the server's limit.",
)
seed_field = Field(
    default=None,
    ge=0,
    le=2**63 - 1,
    description="Seed for sampling; same seed and request give the same answer.",
)
stop_field = Field(
    default=None,
    description="Up to 4 strings; generation stops before any of them.",
)


class ContentPart(BaseModel):
    """One part of a message's content; only text parts are supported."""

    model_config = ConfigDict(extra="ignore")

    type: str
    text: Text | None = None


class ChatMessage(BaseModel):
    """One turn of the conversation."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: Text | list[ContentPart] | None = Field(default=None, max_length=1_000_000)
    name: Text | None = None

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text or "" for part in self.content if part.type == "text")

    @field_validator("content")
    @classmethod
    def _text_only(cls, value: Any) -> Any:
        if isinstance(value, list):
            kinds = {part.type for part in value} - {"text"}
            if kinds:
                raise ValueError(f"only text content is supported, got {sorted(kinds)}")
        return value


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


def _unsupported(*no_ops: Any) -> tuple[Any, ...]:
    """The pydantic metadata of an OpenAI field this server cannot honour (`Annotated[Any,
    *_unsupported(...)]`): absent, null or a value that asks for nothing (`no_ops`) passes;
    anything else is a 400 naming the field."""
    shown = ", ".join(json.dumps(v) for v in no_ops)

    def check(value: Any) -> Any:
        if value is None or any(value == v and type(value) is type(v) for v in no_ops):
            return value
        raise ValueError(f"not supported by this server (only {shown} or leaving it out)")

    return (AfterValidator(check), Field(description=f"Not supported: {shown} or absent."))


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions` body (the subset a local model can honour)."""

    model_config = ConfigDict(extra="ignore")

    model: Text = Field(min_length=1, max_length=256, description="Base model or adapter name.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=1024)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = max_tokens_field
    max_completion_tokens: int | None = max_tokens_field
    temperature: float = temperature_field
    top_p: float = top_p_field
    top_k: int | None = top_k_field
    stop: Text | list[Text] | None = stop_field
    seed: int | None = seed_field
    n: int = Field(default=1, ge=1, le=1, description="Only 1 choice is supported.")
    tools: list[Any] | None = Field(default=None, max_length=0, description="Not supported.")
    # tool_choice: nothing to choose from without tools
    tool_choice: Annotated[Any, *_unsupported("none", "auto")] = None
    parallel_tool_calls: Annotated[Any, *_unsupported(True, False)] = None
    functions: Annotated[Any, *_unsupported([])] = None
    function_call: Annotated[Any, *_unsupported("none", "auto")] = None
    logprobs: Annotated[Any, *_unsupported(False)] = None
    top_logprobs: Annotated[Any, *_unsupported(0)] = None
    response_format: Annotated[Any, *_unsupported({"type": "text"})] = None
    logit_bias: Annotated[Any, *_unsupported({})] = None
    presence_penalty: Annotated[Any, *_unsupported(0, 0.0)] = None
    frequency_penalty: Annotated[Any, *_unsupported(0, 0.0)] = None

    @field_validator("temperature", "top_p", mode="before")
    @classmethod
    def _none_is_default(cls, value: Any) -> Any:
        return 1.0 if value is None else value

    @field_validator("stop")
    @classmethod
    def _bounded_stop(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else (value or [])
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences")
        if any(not s or len(s) > 256 for s in stops):
            raise ValueError("stop sequences must be 1 to 256 characters")
        return value

    def stop_list(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None = None


def _is_none(value: Any) -> bool:
    return value is None


class Delta(BaseModel):
    """What a chunk adds; unset fields are left out, as OpenAI does (`{}` on the last chunk)."""

    role: Literal["assistant"] | None = Field(default=None, exclude_if=_is_none)
    content: str | None = Field(default=None, exclude_if=_is_none)


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = Field(
        default=None,
        exclude_if=_is_none,
        description="Only on the last chunk, with `stream_options.include_usage`.",
    )
    system_fingerprint: str | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "ftk"
    parent: str | None = Field(default=None, description="The base model of an adapter.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok", "failed"] = "ok"
    error: str | None = Field(default=None, exclude_if=_is_none, description="Why it failed.")


class Readiness(BaseModel):
    status: Literal["loading", "ready", "failed"]
    models: list[str] | None = Field(
        default=None, exclude_if=_is_none, description="When ready: what `model` may name."
    )
    error: str | None = Field(default=None, exclude_if=_is_none, description="Why it failed.")


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())
