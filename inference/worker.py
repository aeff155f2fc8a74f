"""One generation on the worker thread: transformers `generate()` streaming text deltas.

`run_generate` switches to the job's adapter, streams each new token through a `TextAssembler`
(stop strings, multi-byte characters) to the job's `Generation`, and stops early when the
consumer cancels or a stop string appears.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from inference.generation import Event, FinishReason, Generation, GenerationRequest
from inference.text import TextAssembler


@dataclass
class Job:
    generation: Generation
    prompt_ids: list[int]
    max_new_tokens: int
    request: GenerationRequest
    adapter: str | None
    stopped: threading.Event = field(default_factory=threading.Event)


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


def generation_config(
    model: Any, tokenizer: Any, request: GenerationRequest, max_new_tokens: int
) -> Any:
    """The model's generation config with this request's sampling and length."""
    config = copy.deepcopy(model.generation_config)
    config.max_new_tokens = max_new_tokens
    config.max_length = None
    config.min_new_tokens = None
    config.pad_token_id = tokenizer.pad_token_id
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
def use_adapter(model: Any, has_adapters: bool, name: str | None) -> Iterator[None]:
    """Route this generation through adapter `name`, or the bare base when None."""
    if not has_adapters:
        yield
    elif name is None:
        with model.disable_adapter():
            yield
    else:
        model.set_adapter(name)
        yield


def run_generate(
    model: Any, tokenizer: Any, job: Job, *, has_adapters: bool, eos: Collection[int]
) -> Event | None:
    """Run `generate()`, emitting text as it comes; the final event, or None if cancelled."""
    import torch

    request, generation = job.request, job.generation

    def decode(ids: Sequence[int]) -> str:
        return tokenizer.decode(ids, skip_special_tokens=True)

    assembler = TextAssembler(decode, request.stop)
    produced: list[int] = []

    def on_tokens(ids: list[int]) -> None:
        produced.extend(ids)
        delta = assembler.push(ids)
        if delta:
            generation.emit(Event(text=delta))
        if assembler.stopped:
            job.stopped.set()

    input_ids = torch.tensor([job.prompt_ids], device=model.device)
    if request.seed is not None:
        torch.manual_seed(request.seed)
    with use_adapter(model, has_adapters, job.adapter), torch.inference_mode():
        model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            generation_config=generation_config(model, tokenizer, request, job.max_new_tokens),
            streamer=_TokenStreamer(on_tokens),
            stopping_criteria=[_stop_when(generation.cancel, job.stopped)],
        )
    if generation.cancel.is_set():
        return None
    tail = assembler.flush()
    if tail:
        generation.emit(Event(text=tail))
    hit_limit = len(produced) >= job.max_new_tokens and produced[-1] not in eos
    reason: FinishReason = "length" if hit_limit and not assembler.stopped else "stop"
    return Event(
        finish_reason=reason,
        prompt_tokens=len(job.prompt_ids),
        completion_tokens=len(produced),
    )
