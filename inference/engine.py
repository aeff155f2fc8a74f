"""Generation engines behind one interface: `Engine.submit(request) -> Generation`.

The transformers engine holds the base model and every LoRA adapter in one peft model and runs one
generation at a time under one lock (adapter switching and seeding are process-wide), in a worker
thread that streams tokens back to the event loop. Requests beyond the running ones wait in a
bounded queue; when it is full `submit` raises a 503 with Retry-After. A vLLM engine (batched,
multi-LoRA) can implement the same interface later.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from inference.errors import APIError, not_ready, overloaded
from inference.models import (
    AdapterSpec,
    ModelError,
    attach_adapters,
    base_model_name,
    load_base_model,
    load_tokenizer,
    pick_device,
    resolve_base,
)
from inference.text import TextAssembler

log = logging.getLogger("inference")

FinishReason = Literal["stop", "length"]
FALLBACK_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class GenerationRequest:
    """One chat completion, independent of the wire format."""

    model: str
    messages: Sequence[dict[str, str]]
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None
    stop: Sequence[str] = ()
    seed: int | None = None


@dataclass(frozen=True)
class Event:
    """New text; the last event of a generation carries `finish_reason` and the token counts."""

    text: str = ""
    finish_reason: FinishReason | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class EngineStats:
    running: int = 0
    waiting: int = 0
    completed: int = 0
    cancelled: int = 0
    capacity: int = 0


class Generation:
    """The consumer's handle: iterate events with `async for`; `close()` stops the generation.

    Events are produced on a worker thread and handed to the event loop that called `submit`.
    """

    def __init__(self, prompt_tokens: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.cancel = threading.Event()
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue()
        self._future: Future[None] | None = None

    def emit(self, item: Event | BaseException | None) -> None:
        """Called from the worker thread; `None` ends the stream."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the consumer's loop is gone: nobody is listening any more
            self.cancel.set()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stop generating (client gone, stop string seen elsewhere, ...); idempotent."""
        self.cancel.set()
        if self._future is not None:
            self._future.cancel()


class Engine(ABC):
    """What the app and the UI need from a model server."""

    state: Literal["loading", "ready", "failed"] = "loading"
    error: str | None = None

    @property
    @abstractmethod
    def model_ids(self) -> list[str]:
        """Names a request's `model` may use; adapters first, then the base."""

    @abstractmethod
    def parent_of(self, model_id: str) -> str | None:
        """The base model an adapter sits on (None for the base)."""

    @abstractmethod
    def load(self) -> None:
        """Load weights (blocking); sets `state`."""

    @abstractmethod
    def submit(self, request: GenerationRequest) -> Generation:
        """Validate, queue and start a generation; raises `APIError` (400/404/503)."""

    @abstractmethod
    def stats(self) -> EngineStats: ...

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Stop accepting work and release resources."""

    def start_loading(self, on_failure: Any = None) -> threading.Thread:
        """Load in a background thread so /health answers while weights load."""

        def run() -> None:
            try:
                self.load()
            except Exception as exc:
                self.state, self.error = "failed", str(exc)
                log.error("model load failed: %s", exc, exc_info=not isinstance(exc, ModelError))
                if on_failure is not None:
                    on_failure(exc)

        thread = threading.Thread(target=run, name="model-loader", daemon=True)
        thread.start()
        return thread


class _Admission:
    """Counts running + waiting requests; refuses beyond `slots + max_queue`."""

    def __init__(self, slots: int, max_queue: int) -> None:
        self.capacity = slots + max_queue
        self.pending = 0
        self._lock = threading.Lock()

    def reserve(self) -> None:
        with self._lock:
            if self.pending >= self.capacity:
                raise overloaded(retry_after=2)
            self.pending += 1

    def release(self) -> None:
        with self._lock:
            self.pending -= 1


class _TokenStreamer:
    """A transformers streamer: skips the prompt, hands each new token's id to `on_tokens`."""

    def __init__(self, on_tokens: Any) -> None:
        self._on_tokens = on_tokens
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self._on_tokens(value.reshape(-1).tolist())

    def end(self) -> None:
        pass


def _stop_when(*flags: threading.Event) -> Any:
    import torch
    from transformers import StoppingCriteria

    class _Flags(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            done = any(f.is_set() for f in flags)
            batch = input_ids.shape[0]
            return torch.full((batch,), done, dtype=torch.bool, device=input_ids.device)

    return _Flags()


@dataclass
class _Job:
    generation: Generation
    prompt_ids: list[int]
    max_new_tokens: int
    request: GenerationRequest
    adapter: str | None
    stopped: threading.Event = field(default_factory=threading.Event)


class TransformersEngine(Engine):
    """Base model + LoRA adapters (peft) with transformers `generate()`; CPU or CUDA."""

    def __init__(
        self,
        base: str,
        adapters: Sequence[AdapterSpec] = (),
        *,
        model_cache: Path = Path("model-cache"),
        device: str = "auto",
        dtype: str = "auto",
        load_in_4bit: bool = False,
        context_length: int | None = None,
        max_tokens_limit: int = 4096,
        default_max_tokens: int = 512,
        max_queue: int = 64,
    ) -> None:
        self.base = base
        self.base_name = base_model_name(base)
        self.adapters = list(adapters)
        clash = [a.name for a in self.adapters if a.name == self.base_name]
        if clash:
            raise ModelError(f"adapter name {clash[0]!r} equals the base model's name; rename it")
        self._model_cache = model_cache
        self._device_arg, self._dtype, self._load_in_4bit = device, dtype, load_in_4bit
        self._context_override = context_length
        self.max_tokens_limit = max_tokens_limit
        self.default_max_tokens = default_max_tokens
        self._admission = _Admission(slots=1, max_queue=max_queue)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self._lock = threading.Lock()
        self._stats = EngineStats(capacity=self._admission.capacity)
        self._model: Any = None
        self._tokenizer: Any = None
        self.context_length = 0
        self.device = "cpu"

    @classmethod
    def from_settings(cls, settings: Any) -> TransformersEngine:
        from inference.models import parse_adapters

        if not settings.base:
            raise ModelError("no base model: pass --base MODEL or set FTK_BASE_MODEL")
        return cls(
            settings.base,
            parse_adapters(settings.adapter),
            model_cache=settings.resolved_model_cache(),
            device=settings.device,
            dtype=settings.dtype,
            load_in_4bit=settings.load_in_4bit,
            context_length=settings.context_length,
            max_tokens_limit=settings.max_tokens_limit,
            default_max_tokens=settings.default_max_tokens,
            max_queue=settings.max_queue,
        )

    # -- loading ---------------------------------------------------------------------------

    @property
    def model_ids(self) -> list[str]:
        """Adapters, then the base (which a request may also name exactly as `--base` said)."""
        return [a.name for a in self.adapters] + [self.base_name]

    def parent_of(self, model_id: str) -> str | None:
        return self.base_name if model_id != self.base_name else None

    def load(self) -> None:
        self.state = "loading"
        self.device = pick_device(self._device_arg)
        path = resolve_base(self.base, self._model_cache)
        log.info("loading %s on %s", path, self.device)
        tokenizer = load_tokenizer(path)
        if not tokenizer.chat_template:
            log.warning("%s has no chat template; using a generic ChatML template", path)
            tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
        model = load_base_model(
            path, device=self.device, dtype=self._dtype, load_in_4bit=self._load_in_4bit
        )
        model = attach_adapters(model, self.adapters)
        self._tokenizer, self._model = tokenizer, model
        self.context_length = self._context_override or _context_length(model.config)
        eos = model.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos]
        self._eos = {e for e in [*eos_ids, tokenizer.eos_token_id] if e is not None}
        self.state, self.error = "ready", None
        log.info("ready: models %s, context %d tokens", self.model_ids, self.context_length)

    # -- requests ----------------------------------------------------------------------------

    def submit(self, request: GenerationRequest) -> Generation:
        if self.state != "ready":
            raise not_ready(
                "The model is still loading."
                if self.state == "loading"
                else f"The model failed to load: {self.error}"
            )
        model = self.base_name if request.model == self.base else request.model
        if model not in self.model_ids:
            raise APIError(
                404,
                f"The model {request.model!r} does not exist. Available: "
                f"{', '.join(self.model_ids)}.",
                code="model_not_found",
                param="model",
            )
        prompt_ids = self.encode(request.messages)
        max_new = self._budget(len(prompt_ids), request.max_tokens)
        self._admission.reserve()
        generation = Generation(prompt_tokens=len(prompt_ids))
        adapter = model if model != self.base_name else None
        job = _Job(generation, prompt_ids, max_new, request, adapter)
        try:
            future = self._executor.submit(self._run, job)
        except RuntimeError as exc:  # executor shut down
            self._admission.release()
            raise not_ready("The server is shutting down.") from exc
        future.add_done_callback(lambda _: self._admission.release())
        generation._future = future
        return generation

    def encode(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """Apply the chat template (with the generation prompt) and tokenize."""
        try:
            text = self._tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:
            raise APIError(
                400,
                f"The model's chat template rejected these messages: {exc}",
                param="messages",
                code="invalid_value",
            ) from exc
        return self._tokenizer(text, add_special_tokens=False)["input_ids"]

    def _budget(self, prompt_tokens: int, requested: int | None) -> int:
        room = self.context_length - prompt_tokens
        if room < 1:
            raise APIError(
                400,
                f"This model's maximum context length is {self.context_length} tokens, but the "
                f"messages take {prompt_tokens} tokens. Shorten the conversation.",
                param="messages",
                code="context_length_exceeded",
            )
        if requested is None:
            return min(self.default_max_tokens, room)
        if requested > self.max_tokens_limit:
            raise APIError(
                400,
                f"max_tokens is too large: {requested}. This server allows at most "
                f"{self.max_tokens_limit}.",
                param="max_tokens",
                code="invalid_value",
            )
        if requested > room:
            raise APIError(
                400,
                f"This model's maximum context length is {self.context_length} tokens. However, "
                f"you requested {prompt_tokens + requested} tokens ({prompt_tokens} in the "
                f"messages, {requested} in the completion). Reduce max_tokens or the messages.",
                param="max_tokens",
                code="context_length_exceeded",
            )
        return requested

    def stats(self) -> EngineStats:
        pending = self._admission.pending
        self._stats.waiting = max(0, pending - self._stats.running)
        return copy.copy(self._stats)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- the worker thread --------------------------------------------------------------------

    def _run(self, job: _Job) -> None:
        generation = job.generation
        try:
            if generation.cancel.is_set():
                self._stats.cancelled += 1
                return
            with self._lock:
                self._stats.running += 1
                try:
                    final = self._generate(job)
                finally:
                    self._stats.running -= 1
            if final is None:
                self._stats.cancelled += 1
            else:
                self._stats.completed += 1
                generation.emit(final)
        except Exception as exc:
            log.exception("generation failed")
            generation.emit(APIError(500, f"Generation failed: {exc}", type="server_error"))
        finally:
            generation.emit(None)

    def _generate(self, job: _Job) -> Event | None:
        """Run `generate()`, emitting text as it comes; the final event, or None if cancelled."""
        import torch

        request, generation = job.request, job.generation
        assembler = TextAssembler(self._decode, request.stop)
        produced: list[int] = []

        def on_tokens(ids: list[int]) -> None:
            produced.extend(ids)
            delta = assembler.push(ids)
            if delta:
                generation.emit(Event(text=delta))
            if assembler.stopped:
                job.stopped.set()

        input_ids = torch.tensor([job.prompt_ids], device=self._model.device)
        if request.seed is not None:
            torch.manual_seed(request.seed)
        with self._adapter(job.adapter), torch.inference_mode():
            self._model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                generation_config=self._generation_config(request, job.max_new_tokens),
                streamer=_TokenStreamer(on_tokens),
                stopping_criteria=[_stop_when(generation.cancel, job.stopped)],
            )
        if generation.cancel.is_set():
            return None
        tail = assembler.flush()
        if tail:
            generation.emit(Event(text=tail))
        hit_limit = len(produced) >= job.max_new_tokens and produced[-1] not in self._eos
        reason: FinishReason = "length" if hit_limit and not assembler.stopped else "stop"
        return Event(
            finish_reason=reason,
            prompt_tokens=len(job.prompt_ids),
            completion_tokens=len(produced),
        )

    def _decode(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    def _generation_config(self, request: GenerationRequest, max_new_tokens: int) -> Any:
        config = copy.deepcopy(self._model.generation_config)
        config.max_new_tokens = max_new_tokens
        config.max_length = None
        config.min_new_tokens = None
        config.pad_token_id = self._tokenizer.pad_token_id
        config.num_return_sequences = 1
        if request.temperature == 0:
            config.do_sample = False
            config.temperature, config.top_p, config.top_k = 1.0, 1.0, None
        else:
            config.do_sample = True
            config.temperature = request.temperature
            config.top_p = request.top_p
            config.top_k = request.top_k or 0
        return config

    @contextlib.contextmanager
    def _adapter(self, name: str | None) -> Iterator[None]:
        """Route this generation through adapter `name`, or the bare base when None."""
        model = self._model
        if not self.adapters:
            yield
        elif name is None:
            with model.disable_adapter():
                yield
        else:
            model.set_adapter(name)
            yield


def _context_length(config: Any) -> int:
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


def build_engine(settings: Any) -> Engine:
    """The engine `settings.engine` names (only "transformers" so far)."""
    if settings.engine == "transformers":
        return TransformersEngine.from_settings(settings)
    raise ModelError(f"unknown engine {settings.engine!r}")
