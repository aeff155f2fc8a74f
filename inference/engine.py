"""The transformers engine: `TransformersEngine.submit(request) -> Generation`.

It holds the base model and every LoRA adapter in one peft model. With `max_batch` > 1 (the
default) concurrent requests share forward passes through transformers' continuous batching
(`inference.batching`); with `max_batch` 1 it runs one `generate()` at a time under one lock, in a
worker thread that streams tokens back to the event loop (`inference.worker`). Requests beyond
the running ones wait in a bounded queue; when it is full `submit` raises `Overloaded`. Refusals
are the domain errors of `inference.generation`; `inference.errors` maps them to HTTP.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from contract.layout import MODEL_CACHE_DIR
from contract.phases import Phase, phase_line
from inference.generation import (
    ContextTooLong,
    Counters,
    EngineStats,
    Event,
    Generation,
    GenerationFailed,
    GenerationRequest,
    InvalidMessages,
    NotReady,
    TokenLimitExceeded,
    UnknownModel,
)
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
from inference.worker import Job, generation_config, run_generate, use_adapter

if TYPE_CHECKING:
    from inference.settings import ServerSettings

log = logging.getLogger("inference")

FALLBACK_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class TransformersEngine:
    """Base model + LoRA adapters (peft) with transformers `generate()`; CPU or CUDA."""

    def __init__(
        self,
        base: str,
        adapters: Sequence[AdapterSpec] = (),
        *,
        model_cache: Path = Path(MODEL_CACHE_DIR),
        device: str = "auto",
        dtype: str = "auto",
        load_in_4bit: bool = False,
        context_length: int | None = None,
        max_tokens_limit: int = 4096,
        default_max_tokens: int = 512,
        max_queue: int = 64,
        max_batch: int = 16,
        kv_cache_tokens: int | None = None,
        kv_cache_memory: float | None = None,
    ) -> None:
        self.base = base
        self.base_name = base_model_name(base)
        self.adapters = list(adapters)
        clash = [a.name for a in self.adapters if a.name == self.base_name]
        if clash:
            raise ModelError(f"adapter name {clash[0]!r} equals the base model's name; rename it")
        self.state: Literal["loading", "ready", "failed"] = "loading"
        self.error: str | None = None
        self._model_cache = model_cache
        self._device_arg, self._dtype, self._load_in_4bit = device, dtype, load_in_4bit
        self._context_override = context_length
        self.max_tokens_limit = max_tokens_limit
        self.default_max_tokens = default_max_tokens
        self.max_batch, self._kv_cache_tokens = max_batch, kv_cache_tokens
        self._kv_cache_memory = kv_cache_memory
        self._batcher: Any = None
        self._counters = Counters(slots=max_batch, max_queue=max_queue)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self._lock = threading.Lock()  # one generation at a time: adapters and seeds are global
        self._model: Any = None
        self._tokenizer: Any = None
        self._eos: set[int] = set()
        self.context_length = 0
        self.device = "cpu"

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> TransformersEngine:
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
            max_batch=settings.max_batch,
            kv_cache_tokens=settings.kv_cache_tokens,
            kv_cache_memory=settings.kv_cache_memory,
        )

    # -- loading ---------------------------------------------------------------------------

    @property
    def model_ids(self) -> list[str]:
        """Adapters, then the base (which a request may also name exactly as `--base` said)."""
        return [a.name for a in self.adapters] + [self.base_name]

    def parent_of(self, model_id: str) -> str | None:
        """The base model an adapter sits on (None for the base)."""
        return self.base_name if model_id != self.base_name else None

    def load(self) -> None:
        """Load weights and serve one short generation (blocking); sets `state`. Ready means
        able to answer: a KV cache that does not fit raises `ModelError` here."""
        self.state = "loading"
        print(phase_line(Phase.LOADING_MODEL, str(self.base)), file=sys.stderr, flush=True)
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
        warm_up_ids = self.encode([{"role": "user", "content": "Hi"}])
        if self.max_batch > 1:
            from inference.batching import MIN_CACHE_TOKENS, Batcher

            self._batcher = Batcher(
                model.get_base_model() if self.adapters else model,
                tokenizer,
                counters=self._counters,
                eos=self._eos,
                switch_model=self._select,
                run_alone=self._run_alone,
                max_batch=self.max_batch,
                kv_cache_tokens=self._kv_cache_tokens,
                kv_cache_memory=self._kv_cache_memory,
                max_new_tokens=self.default_max_tokens,
                warm_up_ids=warm_up_ids,
                min_cache_tokens=min(MIN_CACHE_TOKENS, self.context_length),
                on_fatal=self._fail,
            )
            if self._batcher.cache_tokens < self.context_length:
                log.warning(
                    "the KV cache holds %d tokens: serving contexts up to that, not %d",
                    self._batcher.cache_tokens,
                    self.context_length,
                )
                self.context_length = self._batcher.cache_tokens
        else:
            self._warm_up(warm_up_ids)
        self.state, self.error = "ready", None
        print(phase_line(Phase.SERVING), file=sys.stderr, flush=True)
        log.info("ready: models %s, context %d tokens", self.model_ids, self.context_length)

    def _warm_up(self, prompt_ids: list[int]) -> None:
        """One greedy token through `generate()`: the model answers before /ready says so."""
        import torch

        ids = torch.tensor([prompt_ids], device=self._model.device)
        with torch.inference_mode():
            self._model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=1,
                do_sample=False,
                pad_token_id=self._tokenizer.pad_token_id,
            )

    def _fail(self, reason: str) -> None:
        """The engine cannot serve any more: /ready and /health fail, so the replica restarts."""
        self.state, self.error = "failed", reason

    def start_loading(
        self,
        on_failure: Callable[[Exception], None] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> threading.Thread:
        """Load in a background thread so /health answers while weights load; `on_done` runs
        (on that thread) once the load has ended either way."""

        def run() -> None:
            try:
                self.load()
            except Exception as exc:
                self.state, self.error = "failed", str(exc)
                log.error("model load failed: %s", exc, exc_info=not isinstance(exc, ModelError))
                if on_failure is not None:
                    on_failure(exc)
            finally:
                if on_done is not None:
                    on_done()

        thread = threading.Thread(target=run, name="model-loader", daemon=True)
        thread.start()
        return thread

    # -- requests ----------------------------------------------------------------------------

    def submit(self, request: GenerationRequest) -> Generation:
        """Validate, queue and start a generation; raises the domain errors of `generation`."""
        if self.state != "ready":
            raise NotReady(
                "The model is still loading."
                if self.state == "loading"
                else f"The engine cannot serve: {self.error}",
                retry_after=5,
            )
        model = self.base_name if request.model == self.base else request.model
        if model not in self.model_ids:
            raise UnknownModel(
                f"The model {request.model!r} does not exist. Available: "
                f"{', '.join(self.model_ids)}."
            )
        prompt_ids = self.encode(request.messages)
        max_new = self._budget(len(prompt_ids), request.max_tokens)
        self._counters.reserve()
        generation = Generation(prompt_tokens=len(prompt_ids))
        adapter = model if model != self.base_name else None
        job = Job(generation, prompt_ids, max_new, request, adapter)
        if self._batcher is not None:
            # A seed needs the random generator to itself: such a request runs alone.
            seeded = request.seed is not None and request.temperature != 0
            self._batcher.submit(job, exclusive=seeded)
            return generation
        try:
            future = self._executor.submit(self._run, job)
        except RuntimeError as exc:  # executor shut down
            self._counters.release()
            raise NotReady("The server is shutting down.", retry_after=5) from exc
        future.add_done_callback(lambda _: self._counters.release())
        generation._future = future
        return generation

    def encode(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """Apply the chat template (with the generation prompt) and tokenize."""
        for message in messages:
            try:
                str(message.get("content", "")).encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidMessages(
                    "The messages contain invalid text (a lone UTF-16 surrogate)."
                ) from exc
        try:
            text = self._tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:
            raise InvalidMessages(
                f"The model's chat template rejected these messages: {exc}"
            ) from exc
        return self._tokenizer(text, add_special_tokens=False)["input_ids"]

    def _budget(self, prompt_tokens: int, requested: int | None) -> int:
        room = self.context_length - prompt_tokens
        if room < 1:
            raise ContextTooLong(
                f"This model's maximum context length is {self.context_length} tokens, but the "
                f"messages take {prompt_tokens} tokens. Shorten the conversation.",
                param="messages",
            )
        if requested is None:
            return min(self.default_max_tokens, room)
        if requested > self.max_tokens_limit:
            raise TokenLimitExceeded(
                f"max_tokens is too large: {requested}. This server allows at most "
                f"{self.max_tokens_limit}."
            )
        if requested > room:
            raise ContextTooLong(
                f"This model's maximum context length is {self.context_length} tokens. However, "
                f"you requested {prompt_tokens + requested} tokens ({prompt_tokens} in the "
                f"messages, {requested} in the completion). Reduce max_tokens or the messages.",
                param="max_tokens",
            )
        return requested

    def stats(self) -> EngineStats:
        return self._counters.snapshot()

    def shutdown(self) -> None:
        """Stop accepting work and release resources."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._batcher is not None:
            self._batcher.shutdown()

    # -- the worker thread --------------------------------------------------------------------

    def _run(self, job: Job) -> None:
        generation = job.generation
        try:
            if generation.cancel.is_set():
                self._counters.count("cancelled")
                return
            with self._lock:
                self._counters.started()
                try:
                    final = run_generate(
                        self._model,
                        self._tokenizer,
                        job,
                        has_adapters=bool(self.adapters),
                        eos=self._eos,
                    )
                finally:
                    self._counters.stopped()
            if final is None:
                self._counters.count("cancelled")
            else:
                self._counters.count("completed")
                generation.emit(final)
        except Exception as exc:
            # One line; the traceback only at debug level. The client gets a clean 500.
            log.error("generation failed: %s: %s", type(exc).__name__, exc)
            log.debug("generation failure traceback", exc_info=exc)
            self._counters.count("failed")
            generation.emit(GenerationFailed("Generation failed; the server log says why."))
        finally:
            generation.emit(None)

    # -- continuous batching's helpers --------------------------------------------------------

    def _select(self, adapter: str | None) -> None:
        """Route the whole model through `adapter` (None: the bare base); only between batches."""
        if not self.adapters:
            return
        lora = self._model.base_model
        if adapter is None:
            lora.disable_adapter_layers()
        else:
            lora.enable_adapter_layers()
            self._model.set_adapter(adapter)

    def _run_alone(self, job: Job, done: Callable[[str], None]) -> None:
        """A seeded request: `generate()` on the worker thread, the model already selected."""

        def run() -> None:
            outcome = "failed"
            try:
                final = run_generate(
                    self._model, self._tokenizer, job, has_adapters=False, eos=self._eos
                )
                outcome = "cancelled" if final is None else "completed"
                if final is not None:
                    job.generation.emit(final)
            except Exception as exc:
                log.error("generation failed: %s: %s", type(exc).__name__, exc)
                job.generation.emit(GenerationFailed("Generation failed; the server log says why."))
            finally:
                done(outcome)
                job.generation.emit(None)

        self._executor.submit(run)

    # Used by benchmarks/serve.py to time the bare `generate()` the same way.
    def _generation_config(self, request: GenerationRequest, max_new_tokens: int) -> Any:
        return generation_config(self._model, self._tokenizer, request, max_new_tokens)

    def _adapter(self, name: str | None) -> AbstractContextManager[None]:
        return use_adapter(self._model, bool(self.adapters), name)


def _context_length(config: Any) -> int:
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


def build_engine(settings: ServerSettings) -> TransformersEngine:
    """The engine `settings.engine` names (only "transformers" so far)."""
    if settings.engine == "transformers":
        return TransformersEngine.from_settings(settings)
    raise ModelError(f"unknown engine {settings.engine!r}")


__all__ = ["Event", "GenerationRequest", "TransformersEngine", "build_engine"]
