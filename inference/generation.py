"""What an engine and its callers share: the `Engine` protocol, the request, the events, the
handle, the counters and the domain errors.

The engine knows nothing of HTTP: it raises the errors below, and `inference.errors` alone maps
them to status codes and OpenAI's error body (the Gradio page shows their message).
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

FinishReason = Literal["stop", "length"]


# -- domain errors ------------------------------------------------------------------------------


class EngineError(Exception):
    """A request the engine refuses; `param` names the request field at fault, if one is."""

    param: str | None = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param or self.param


class UnknownModel(EngineError):
    param = "model"


class InvalidMessages(EngineError):
    """The messages cannot be used: text that is not valid Unicode, or the template refused."""

    param = "messages"


class ContextTooLong(EngineError):
    """Prompt plus completion do not fit the model's context."""


class TokenLimitExceeded(EngineError):
    """`max_tokens` above the server's limit."""

    param = "max_tokens"


class Overloaded(EngineError):
    """Every slot and queue place is taken; retry after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotReady(Overloaded):
    """Still loading, the load failed, or shutting down."""


class GenerationFailed(EngineError):
    """An unexpected fault while generating; logged by the engine, a 500 for the client."""


# -- requests and events ------------------------------------------------------------------------


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
        self._on_close: list[Callable[[], None]] = []
        self._closed = False

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call `callback` once when the consumer closes the generation (the engine stops it)."""
        self._on_close.append(callback)

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
        if self._closed:
            return
        self._closed = True
        self.cancel.set()
        if self._future is not None:
            self._future.cancel()
        for callback in self._on_close:
            callback()


# -- admission and counters ---------------------------------------------------------------------


@dataclass
class EngineStats:
    running: int = 0
    waiting: int = 0
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    capacity: int = 0


class Counters:
    """Admission (running + waiting, refused beyond `slots + max_queue`) and outcome counts.

    Every change and every snapshot happens under one lock: the event loop reads while the worker
    thread writes.
    """

    def __init__(self, slots: int, max_queue: int) -> None:
        self._lock = threading.Lock()
        self._pending = 0
        self._stats = EngineStats(capacity=slots + max_queue)

    def reserve(self) -> None:
        with self._lock:
            if self._pending >= self._stats.capacity:
                raise Overloaded(
                    "The server is busy: the request queue is full. Retry later.", retry_after=2
                )
            self._pending += 1

    def release(self) -> None:
        with self._lock:
            self._pending -= 1

    def started(self) -> None:
        with self._lock:
            self._stats.running += 1

    def stopped(self) -> None:
        with self._lock:
            self._stats.running -= 1

    def count(self, outcome: Literal["completed", "cancelled", "failed"]) -> None:
        with self._lock:
            setattr(self._stats, outcome, getattr(self._stats, outcome) + 1)

    def snapshot(self) -> EngineStats:
        with self._lock:
            stats = copy.copy(self._stats)
            stats.waiting = max(0, self._pending - stats.running)
            return stats


# -- the protocol every engine offers -------------------------------------------------------------


class Stream(Protocol):
    """One generation as its consumer sees it: text events, and `close()` to stop it early."""

    def __aiter__(self) -> AsyncIterator[Event]: ...

    def close(self) -> None: ...


@runtime_checkable
class Engine(Protocol):
    """What the chat page (`inference.ui`) and any other caller use of an engine. Implemented by
    `inference.engine.TransformersEngine` (in this process) and `inference.remote.RemoteEngine`
    (a remote OpenAI-compatible server: vLLM's, or ours), so the same page chats with either.
    A new in-process engine implements this too; one that runs its own server (the stack's
    `contract.engines` entries) is reached through `RemoteEngine`."""

    @property
    def state(self) -> str:
        """ "loading", "ready" or "failed"."""

    @property
    def model_ids(self) -> list[str]:
        """The names a request's `model` may take, adapters first."""

    def submit(self, request: GenerationRequest) -> Stream:
        """Start one generation; raises an `EngineError` the caller shows to the user."""
