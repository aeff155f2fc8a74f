"""The HTTP app: OpenAI-compatible `/v1` routes, probes, and the Gradio chat UI at `/`.

`create_app(settings, engine=None)` builds everything; uvicorn, the tests and `python -m inference
serve` all use it. The engine lives on `app.state.engine` and loads in the background, so
`/health` answers at once and `/ready` turns 200 when the weights are in.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference.engine import Engine, Event, Generation, GenerationRequest, build_engine
from inference.errors import APIError, openai_error_handler, to_api_error, unauthorized
from inference.protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ModelCard,
    ModelList,
    completion_id,
    now,
)
from inference.settings import ServerSettings

log = logging.getLogger("inference")
_bearer = HTTPBearer(auto_error=False)


# -- security and limits ------------------------------------------------------------------------


def key_matches(given: str | None, settings: ServerSettings) -> bool:
    """True when no key is configured, or `given` equals it (constant time)."""
    if settings.api_key is None:
        return True
    expected = settings.api_key.get_secret_value().encode()
    return given is not None and hmac.compare_digest(given.encode(), expected)


async def require_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Every `/v1` route: `Authorization: Bearer KEY` when a key is configured."""
    given = credentials.credentials if credentials else None
    if not key_matches(given, request.app.state.settings):
        raise unauthorized()


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413 (by Content-Length, or while reading)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = HTTPException(413, f"Request body larger than {self.max_bytes} bytes.")
        length = dict(scope.get("headers", [])).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            response = await openai_error_handler(Request(scope), too_large)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        await self.app(scope, limited, send)


# -- responses ----------------------------------------------------------------------------------


class EventStream(StreamingResponse):
    """SSE response that always closes its generation, even if the body was never iterated."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str], generation: Generation) -> None:
        super().__init__(content, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._generation = generation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._generation.close()


def _sse(payload: dict[str, Any] | str) -> str:
    data = (
        payload
        if isinstance(payload, str)
        else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    )
    return f"data: {data}\n\n"


def _chunk(cid: str, created: int, model: str, delta: dict[str, str], finish: str | None) -> dict:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _usage(event: Event) -> dict[str, int]:
    total = event.prompt_tokens + event.completion_tokens
    return {
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "total_tokens": total,
    }


async def stream_chunks(
    generation: Generation, model: str, include_usage: bool = False
) -> AsyncIterator[str]:
    """OpenAI's stream: role delta, content deltas, a finish chunk, [usage], `[DONE]`."""
    cid, created = completion_id(), now()
    yield _sse(_chunk(cid, created, model, {"role": "assistant", "content": ""}, None))
    try:
        async for event in generation:
            if event.text:
                yield _sse(_chunk(cid, created, model, {"content": event.text}, None))
            if event.finish_reason:
                yield _sse(_chunk(cid, created, model, {}, event.finish_reason))
                if include_usage:
                    usage_chunk = _chunk(cid, created, model, {}, None)
                    usage_chunk["choices"], usage_chunk["usage"] = [], _usage(event)
                    yield _sse(usage_chunk)
    except Exception as exc:  # headers are gone: report in-band, the way OpenAI does
        yield _sse(to_api_error(exc).body())
        return
    yield _sse("[DONE]")


async def collect(generation: Generation, model: str, request: Request) -> dict[str, Any]:
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
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": last.finish_reason or "stop",
            }
        ],
        "usage": _usage(last),
    }


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


# -- routes -------------------------------------------------------------------------------------

probes = APIRouter(tags=["probes"])
v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_key)], tags=["openai"])


@probes.get("/health")
async def health() -> dict[str, str]:
    """Alive (the process answers); no key needed."""
    return {"status": "ok"}


@probes.get("/ready", responses={503: {"description": "Loading, or the load failed"}})
async def ready(request: Request) -> JSONResponse:
    """200 once the model is loaded; no key needed."""
    engine: Engine = request.app.state.engine
    if engine.state == "ready":
        return JSONResponse({"status": "ready", "models": engine.model_ids})
    body = {"status": engine.state, "error": engine.error}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


@v1.get("/models", response_model=ModelList)
async def list_models(request: Request) -> ModelList:
    """The base model and every adapter; a request's `model` picks one."""
    engine: Engine = request.app.state.engine
    return ModelList(data=[ModelCard(id=m, parent=engine.parent_of(m)) for m in engine.model_ids])


@v1.get("/models/{model_id:path}", response_model=ModelCard)
async def get_model(model_id: str, request: Request) -> ModelCard:
    engine: Engine = request.app.state.engine
    if model_id not in engine.model_ids:
        raise APIError(404, f"The model {model_id!r} does not exist.", code="model_not_found")
    return ModelCard(id=model_id, parent=engine.parent_of(model_id))


@v1.post(
    "/chat/completions",
    response_model=None,
    responses={
        200: {
            "description": "A completion (JSON), or with `stream` a server-sent event stream of "
            "chunks ending with `data: [DONE]`.",
            "content": {
                "application/json": {"schema": ChatCompletion.model_json_schema()},
                "text/event-stream": {"schema": ChatCompletionChunk.model_json_schema()},
            },
        },
        400: {"description": "Invalid request (OpenAI error body)"},
        401: {"description": "Missing or wrong API key"},
        404: {"description": "Unknown model"},
        503: {"description": "Queue full or model loading (see Retry-After)"},
    },
)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    """Chat completion over the whole conversation, streamed (SSE) or not."""
    engine: Engine = request.app.state.engine
    generation = engine.submit(to_generation(body))
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return EventStream(stream_chunks(generation, body.model, include_usage), generation)
    return JSONResponse(await collect(generation, body.model, request))


@v1.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
async def unknown_route(path: str) -> None:
    """Keep unknown `/v1` paths out of the UI mount: 404 in OpenAI's shape."""
    raise APIError(404, f"Unknown endpoint /v1/{path}.", code="not_found")


# -- the app ------------------------------------------------------------------------------------


def create_app(
    settings: ServerSettings,
    engine: Engine | None = None,
    *,
    on_load_failure: Callable[[Exception], None] | None = None,
) -> FastAPI:
    """Build the app. Without `engine`, one is built from `settings` (weights load at startup)."""
    engine = engine or build_engine(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if engine.state == "loading":
            engine.start_loading(on_failure=on_load_failure)
        yield
        engine.shutdown()

    app = FastAPI(
        title="ftk inference",
        description="OpenAI-compatible chat completions for a base model and its LoRA adapters.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    for exc_type in (APIError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(exc_type, openai_error_handler)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.include_router(probes)
    app.include_router(v1)
    if settings.ui:
        from inference.ui import mount_ui

        mount_ui(app, engine, settings)
    return app
