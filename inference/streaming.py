"""Turn a `Generation` into OpenAI's responses: a `ChatCompletion`, or a server-sent event stream
of `ChatCompletionChunk`s (sse-starlette) ending with `data: [DONE]`.

Either way the generation stops when the client goes away: sse-starlette cancels the stream on
disconnect, and `collect` polls for it while the answer is being generated.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import Request
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from inference.errors import APIError, to_api_error
from inference.generation import Event, FinishReason, Generation, GenerationRequest
from inference.protocol import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    Usage,
    completion_id,
    now,
)


def to_generation(body: ChatCompletionRequest) -> GenerationRequest:
    roles = {"developer": "system"}
    return GenerationRequest(
        model=body.model,
        messages=[{"role": roles.get(m.role, m.role), "content": m.text()} for m in body.messages],
        max_tokens=body.requested_max_tokens(),
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        stop=body.stop_list(),
        seed=body.seed,
    )


def _usage(event: Event) -> Usage:
    return Usage(
        prompt_tokens=event.prompt_tokens,
        completion_tokens=event.completion_tokens,
        total_tokens=event.prompt_tokens + event.completion_tokens,
    )


class GenerationStream(EventSourceResponse):
    """One `data: <json>` event per chunk (`\\n` line ends), then `data: [DONE]`; the generation
    is closed however the response ends, even if its body was never iterated."""

    def __init__(self, generation: Generation, model: str, include_usage: bool) -> None:
        super().__init__(_events(generation, model, include_usage), sep="\n")
        self._generation = generation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._generation.close()


async def _events(generation: Generation, model: str, include_usage: bool) -> AsyncIterator[str]:
    """OpenAI's stream: role delta, content deltas, a finish chunk, [usage], `[DONE]`."""
    cid, created = completion_id(), now()

    def chunk(delta: Delta, finish: FinishReason | None = None) -> str:
        choice = ChunkChoice(delta=delta, finish_reason=finish)
        return ChatCompletionChunk(
            id=cid, created=created, model=model, choices=[choice]
        ).model_dump_json()

    yield chunk(Delta(role="assistant", content=""))
    try:
        async for event in generation:
            if event.text:
                yield chunk(Delta(content=event.text))
            if event.finish_reason:
                yield chunk(Delta(), event.finish_reason)
                if include_usage:
                    yield ChatCompletionChunk(
                        id=cid, created=created, model=model, choices=[], usage=_usage(event)
                    ).model_dump_json()
    except Exception as exc:  # headers are gone: report in-band, the way OpenAI does
        yield bytes(to_api_error(exc).response().body).decode()
        return
    finally:
        generation.close()
    yield "[DONE]"


async def collect(generation: Generation, model: str, request: Request) -> ChatCompletion:
    """Run a non-streamed completion; stop generating if the client goes away meanwhile."""

    async def gather() -> tuple[str, Event]:
        parts, last = [], Event()
        async for event in generation:
            parts.append(event.text)
            last = event
        return "".join(parts), last

    task = asyncio.ensure_future(gather())
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=0.25)
            if not task.done() and await request.is_disconnected():
                task.cancel()
                raise APIError(499, "Client closed the request.", code="client_closed")
        text, last = task.result()
    finally:
        generation.close()
    return ChatCompletion(
        id=completion_id(),
        created=now(),
        model=model,
        choices=[
            Choice(
                message=AssistantMessage(content=text),
                finish_reason=last.finish_reason or "stop",
            )
        ],
        usage=_usage(last),
    )
