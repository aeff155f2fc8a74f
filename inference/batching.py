"""Continuous batching for the transformers engine, through transformers' own API.

`Batcher` owns one `ContinuousBatchingManager` (`model.init_continuous_batching`, paged attention):
every admitted request joins the running batch at the next step, so concurrent requests share
forward passes. Per request: its sampling settings (transformers' per-request temperature, top-k
and top-p processors), its token budget, EOS, stop strings and cancellation. Greedy requests
(temperature 0) sample with top-k 1, which is the argmax, so the batch never changes them beyond
the kernels' numerics.

What transformers' batching does not cover, and how it is handled here:
- one adapter per batch: peft switches adapters for the whole model, so requests for another
  model (an adapter or the bare base) wait until the running batch drains, then that model's
  waiting requests go in together;
- per-request seeds: the batch shares one random generator, so a request with a seed runs alone,
  through `generate()` (`inference.worker`), which reproduces it exactly.
Requests are served in arrival order across those switches.

The paged KV cache is sized when the batcher starts: on CUDA from the memory actually free
(transformers' own sizing, `max_memory_percent` of what the weights left), on CPU a fixed
`CPU_CACHE_TOKENS` (RAM is shared with everything else on the machine); `kv_cache_tokens` fixes
it instead. transformers builds the cache on its background thread, where a failure is only
recorded, so the batcher serves one short generation before it is used: a cache that does not
fit is a `ModelError` at load (one line), never a server that says ready and never answers. A
generation loop that dies later (`add_request` refused, a fatal error recorded) fails every
request it held with a 500 and calls `on_fatal`, so the engine reports failed on /ready and
/health and the platform restarts the replica.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from inference.generation import Counters, Event, FinishReason, GenerationFailed
from inference.models import ModelError
from inference.text import TextAssembler
from inference.worker import Job

log = logging.getLogger("inference")

PAGE_TOKENS = 64  # tokens per page of the paged cache
# The cache without --kv-cache-tokens on CPU: RAM also holds the weights and everything else on
# the machine, so it is not filled the way a GPU's free memory is.
CPU_CACHE_TOKENS = 32768
# A cache smaller than this (or than the context, if that is shorter) is refused at load.
MIN_CACHE_TOKENS = 512
WARM_UP_SECONDS = 300.0  # one token for a short prompt; a GPU compiles its kernels on the way
_FAILED = "Generation failed; the server log says why."


def cache_blocks(kv_cache_tokens: int | None, device_type: str) -> int | None:
    """`num_blocks` for transformers: None lets it size the cache from the free memory."""
    if kv_cache_tokens is None and device_type != "cuda":
        kv_cache_tokens = CPU_CACHE_TOKENS
    if kv_cache_tokens is None:
        return None
    return max(4, -(-kv_cache_tokens // PAGE_TOKENS))


@dataclass
class _Slot:
    job: Job
    model: str | None  # the adapter's name, None for the base
    exclusive: bool  # runs alone through generate()
    assembler: TextAssembler
    seen: int = 0
    done: bool = False
    request_id: str = field(default_factory=lambda: f"ftk-{uuid.uuid4().hex}")


def _generation_config(model: Any, tokenizer: Any, max_new_tokens: int) -> Any:
    """Sampling on, with temperature/top-k/top-p processors present so each request can set its
    own (a processor exists only when the config differs from its neutral value)."""
    from transformers import GenerationConfig

    eos = model.generation_config.eos_token_id
    return GenerationConfig(
        do_sample=True,
        temperature=0.5,
        top_k=50,
        top_p=0.9,
        max_new_tokens=max_new_tokens,
        eos_token_id=eos if eos is not None else tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


class Batcher:
    """Admits jobs into transformers' continuous batching; see the module docstring."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        counters: Counters,
        eos: Collection[int],
        switch_model: Callable[[str | None], None],
        run_alone: Callable[[Job, Callable[[str], None]], None],
        max_batch: int,
        kv_cache_tokens: int | None,
        kv_cache_memory: float | None,
        max_new_tokens: int,
        warm_up_ids: list[int],
        min_cache_tokens: int = MIN_CACHE_TOKENS,
        on_fatal: Callable[[str], None] = lambda reason: None,
    ) -> None:
        """Start the generation loop and serve one warm-up generation; raises `ModelError` when
        the cache does not fit or the loop cannot answer."""
        from transformers import ContinuousBatchingConfig

        self._tokenizer, self._counters, self._eos = tokenizer, counters, set(eos)
        self._switch_model, self._run_alone = switch_model, run_alone
        self._on_fatal = on_fatal
        self._broken: str | None = None  # why the generation loop cannot serve any more
        self._reported = False
        self._vocab = int(model.config.get_text_config().vocab_size)
        config = ContinuousBatchingConfig(
            page_size=PAGE_TOKENS,
            num_blocks=cache_blocks(kv_cache_tokens, model.device.type),
            max_memory_percent=kv_cache_memory,
            max_batch_tokens=1024,
            max_requests_per_batch=max_batch,
            per_request_processors=True,
            allow_block_sharing=False,
        )
        self._manager = model.init_continuous_batching(
            generation_config=_generation_config(model, tokenizer, max_new_tokens),
            continuous_batching_config=config,
        )
        self._manager.start()
        try:
            self._warm_up(warm_up_ids)
            # transformers writes the cache's real size back into the config it was given.
            self.cache_tokens = int(config.num_blocks or 0) * PAGE_TOKENS
            if self.cache_tokens < min_cache_tokens:
                raise ModelError(
                    f"the KV cache holds only {self.cache_tokens} tokens, fewer than the "
                    f"{min_cache_tokens} a request needs; free GPU memory (--load-in-4bit, a "
                    "larger GPU) or lower --max-batch"
                )
        except BaseException:
            self._stop_manager()
            raise
        log.info("KV cache: %d tokens for up to %d requests", self.cache_tokens, max_batch)
        self._lock = threading.Lock()
        self._running: dict[str, _Slot] = {}
        self._alone: _Slot | None = None
        self._waiting: deque[_Slot] = deque()
        self._active: str | None = None
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="batch-results", daemon=True)
        self._reader.start()

    def _warm_up(self, prompt_ids: list[int]) -> None:
        """One greedy token through the running loop; `ModelError` (one line) if none comes."""
        request_id = self._manager.add_request(
            prompt_ids,
            request_id="ftk-warm-up",
            max_new_tokens=1,
            eos_token_id=sorted(self._eos),
            temperature=1.0,
            top_k=1,
            top_p=1.0,
        )
        deadline = time.monotonic() + WARM_UP_SECONDS
        reason: str | None = None
        while request_id is not None and reason is None and time.monotonic() < deadline:
            output = self._manager.get_result(request_id=request_id, timeout=0.5)
            if output is not None and output.error:
                reason = _one_line(output.error)
            elif output is not None and output.is_finished():
                return
            else:
                reason = self._failure()
        reason = reason or self._failure() or f"no token in {WARM_UP_SECONDS:.0f} s"
        raise ModelError(
            f"continuous batching cannot serve ({reason}); if the KV cache does not fit, lower "
            "or unset --kv-cache-tokens/--kv-cache-memory, or free GPU memory (--load-in-4bit)"
        )

    def _failure(self) -> str | None:
        """Why the generation loop cannot serve, or None while it can."""
        if self._broken is not None:
            return self._broken
        # transformers records the loop's fatal error here (continuous_api.BackgroundThreadStatus)
        status = getattr(self._manager, "background_thread_status", None)
        error = getattr(status, "fatal_error", None)
        if error is not None:
            return f"{type(error).__name__}: {_one_line(str(error))}"
        if not self._manager.is_running():
            return "the generation loop stopped"
        return None

    # -- admission ---------------------------------------------------------------------------

    def submit(self, job: Job, *, exclusive: bool) -> None:
        slot = _Slot(job, job.adapter, exclusive, TextAssembler(self._decode, job.request.stop))
        job.generation.on_close(lambda: self._cancel(slot))
        with self._lock:
            busy = self._running or self._alone is not None
            joins = not exclusive and not self._waiting and slot.model == self._active
            if not busy or (joins and self._alone is None):
                self._start(slot)
            else:
                self._waiting.append(slot)

    def _start(self, slot: _Slot) -> None:
        """Under the lock: switch the model if needed and start `slot`."""
        if slot.model != self._active or (not self._running and self._alone is None):
            self._switch_model(slot.model)
            self._active = slot.model
        self._counters.started()
        if slot.exclusive:
            self._alone = slot
            self._run_alone(slot.job, lambda outcome: self._finished(slot, outcome))
            return
        self._running[slot.request_id] = slot
        request = slot.job.request
        greedy = request.temperature == 0
        added = self._manager.add_request(
            slot.job.prompt_ids,
            request_id=slot.request_id,
            max_new_tokens=slot.job.max_new_tokens,
            streaming=True,
            eos_token_id=sorted(self._eos),
            temperature=1.0 if greedy else float(request.temperature),
            top_k=1 if greedy else int(request.top_k or self._vocab),
            top_p=1.0 if greedy else float(request.top_p),
        )
        if added is None:  # the loop refuses new requests: it died; the reader fails this one
            self._broken = self._failure() or "the generation loop refused a request"

    def _next(self) -> None:
        """Under the lock, once nothing runs: start the next waiting request, and every waiting
        request for the same model behind it (seeded ones stay alone)."""
        if self._running or self._alone is not None or not self._waiting or self._broken:
            return
        first = self._waiting.popleft()
        self._start(first)
        if first.exclusive:
            return
        keep: deque[_Slot] = deque()
        while self._waiting:
            slot = self._waiting.popleft()
            if not slot.exclusive and slot.model == first.model:
                self._start(slot)
            else:
                keep.append(slot)
        self._waiting = keep

    def _finished(self, slot: _Slot, outcome: str = "completed") -> None:
        with self._lock:
            if slot.done:
                return
            slot.done = True
            if slot in self._waiting:
                self._waiting.remove(slot)
            else:
                self._counters.stopped()
                if self._alone is slot:
                    self._alone = None
                self._running.pop(slot.request_id, None)
            self._counters.count(outcome)  # type: ignore[arg-type]
            self._counters.release()
            self._next()

    def _cancel(self, slot: _Slot) -> None:
        if slot.done or slot.exclusive:
            return  # a lone generate() stops on the generation's cancel flag and reports itself
        self._manager.cancel_request(slot.request_id)
        generation = slot.job.generation
        self._finished(slot, "cancelled")
        generation.emit(None)

    # -- results -----------------------------------------------------------------------------

    def _decode(self, ids: Any) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                output = self._manager.get_result(timeout=0.1)
            except Exception as exc:  # the manager cannot hand out results: it cannot serve
                self._broken = self._broken or f"{type(exc).__name__}: {_one_line(str(exc))}"
                output = None
            if output is None:
                # get_result returns at once when the loop has died: fail what it held, then
                # wait before looking again rather than spin.
                reason = self._failure()
                if reason is not None and not self._closed.is_set():
                    self._give_up(reason)
                    self._closed.wait(0.5)
                continue
            slot = self._running.get(output.request_id)
            if slot is not None and not slot.done:
                try:
                    self._deliver(slot, output)
                except Exception as exc:
                    log.error("delivering a batched result failed: %s: %s", type(exc).__name__, exc)
                    self._end(slot, "failed", GenerationFailed("Generation failed; see the log."))

    def _deliver(self, slot: _Slot, output: Any) -> None:
        generation = slot.job.generation
        tokens = list(output.generated_tokens)
        new, slot.seen = tokens[slot.seen :], len(tokens)
        if new and not slot.assembler.stopped:
            delta = slot.assembler.push(new)
            if delta:
                generation.emit(Event(text=delta))
        if output.error:
            log.error("batched generation failed: %s", _one_line(output.error))
            failed = GenerationFailed(_FAILED)
            self._end(slot, "failed", failed)
            return
        if slot.assembler.stopped and not output.is_finished():
            self._manager.cancel_request(slot.request_id)
        if not (output.is_finished() or slot.assembler.stopped):
            return
        tail = slot.assembler.flush()
        if tail:
            generation.emit(Event(text=tail))
        limit = slot.seen >= slot.job.max_new_tokens and tokens[-1] not in self._eos
        reason: FinishReason = "length" if limit and not slot.assembler.stopped else "stop"
        final = Event(
            finish_reason=reason,
            prompt_tokens=len(slot.job.prompt_ids),
            completion_tokens=slot.seen,
        )
        self._end(slot, "completed", final)

    def _end(self, slot: _Slot, outcome: str, last: Event | GenerationFailed) -> None:
        """Count the outcome, then send `last` and the end. In that order: a client that leaves
        as soon as it reads `last` closes the generation, and a close before the count would
        count the request as cancelled."""
        self._finished(slot, outcome)
        slot.job.generation.emit(last)
        slot.job.generation.emit(None)

    def _give_up(self, reason: str) -> None:
        """The loop cannot serve: report it once (the engine turns failed), then fail every
        request it held or that waits for it with a 500. Seeded requests finish on their own."""
        if not self._reported:
            self._reported = True
            log.error("continuous batching failed: %s", reason)
            self._on_fatal(reason)
        with self._lock:
            held = [s for s in [*self._running.values(), *self._waiting] if not s.done]
        for slot in held:
            self._end(slot, "failed", GenerationFailed(_FAILED))

    def shutdown(self) -> None:
        self._closed.set()
        self._stop_manager()

    def _stop_manager(self) -> None:
        try:
            self._manager.stop(block=False)
        except Exception as exc:  # shutting down anyway
            log.debug("stopping continuous batching: %s", exc)


def _one_line(text: str) -> str:
    return " ".join(text.split())
