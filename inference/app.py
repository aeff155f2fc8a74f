"""The HTTP app: OpenAI-compatible `/v1` routes, probes, and the Gradio chat UI at `/`.

`create_app(settings, engine=None)` builds everything; uvicorn, the tests and `python -m inference
serve` all use it. The engine lives on `app.state.engine` and loads in the background, so
`/health` answers at once and `/ready` turns 200 when the weights are in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from inference.engine import TransformersEngine, build_engine
from inference.errors import APIError, OpenAIRoute, openai_error_handler
from inference.guards import BodyLimit, require_key
from inference.protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Health,
    ModelCard,
    ModelList,
    Readiness,
)
from inference.settings import ServerSettings
from inference.streaming import GenerationStream, collect, to_generation

if TYPE_CHECKING:
    from inference.ui import DeferredUI


def _ref(name: str) -> str:
    return f"#/components/schemas/{name}"


# -- routes -------------------------------------------------------------------------------------

probes = APIRouter(tags=["probes"], route_class=OpenAIRoute)
v1 = APIRouter(
    prefix="/v1", dependencies=[Depends(require_key)], tags=["openai"], route_class=OpenAIRoute
)


@probes.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The engine failed; restart the replica"}},
)
async def health(request: Request, response: Response) -> Health:
    """Alive (answers while the model loads); 503 once the engine has failed. No key needed."""
    engine: TransformersEngine = request.app.state.engine
    if engine.state == "failed":
        response.status_code = 503
        return Health(status="failed", error=engine.error)
    return Health()


@probes.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Loading, or the load failed"}},
)
async def ready(request: Request, response: Response) -> Readiness:
    """200 once the model is loaded; no key needed."""
    engine: TransformersEngine = request.app.state.engine
    if engine.state == "ready":
        return Readiness(status="ready", models=engine.model_ids)
    response.status_code = 503
    response.headers["Retry-After"] = "5"
    return Readiness(status=engine.state, error=engine.error)


@v1.get("/models", response_model=ModelList)
async def list_models(request: Request) -> ModelList:
    """The base model and every adapter; a request's `model` picks one."""
    engine: TransformersEngine = request.app.state.engine
    return ModelList(data=[ModelCard(id=m, parent=engine.parent_of(m)) for m in engine.model_ids])


@v1.get("/models/{model_id:path}", response_model=ModelCard)
async def get_model(model_id: str, request: Request) -> ModelCard:
    engine: TransformersEngine = request.app.state.engine
    if model_id not in engine.model_ids:
        raise APIError(404, f"The model {model_id!r} does not exist.", code="model_not_found")
    return ModelCard(id=model_id, parent=engine.parent_of(model_id))


_ERROR = {"description": "OpenAI error body: {error: {message, type, param, code}}"}


@v1.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {
            "description": "A completion (JSON), or with `stream` a server-sent event stream: "
            "one `data: <ChatCompletionChunk>` event per chunk, then `data: [DONE]`.",
            "content": {"text/event-stream": {"schema": {"$ref": _ref("ChatCompletionChunk")}}},
        },
        400: {**_ERROR, "description": "Invalid request, invalid text, context exceeded"},
        401: {**_ERROR, "description": "Missing or wrong API key"},
        404: {**_ERROR, "description": "Unknown model"},
        413: {**_ERROR, "description": "Request body too large"},
        500: {**_ERROR, "description": "Unexpected fault (logged); the server keeps serving"},
        503: {**_ERROR, "description": "Queue full or model loading (see Retry-After)"},
    },
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request
) -> ChatCompletion | GenerationStream:
    """Chat completion over the whole conversation, streamed (SSE) or not."""
    engine: TransformersEngine = request.app.state.engine
    generation = engine.submit(to_generation(body))
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return GenerationStream(generation, body.model, include_usage)
    return await collect(generation, body.model, request)


@v1.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False
)
async def unknown_route(path: str) -> None:
    """Keep unknown `/v1` paths out of the UI mount: 404 in OpenAI's shape."""
    raise APIError(404, f"Unknown endpoint /v1/{path}.", code="not_found")


# -- the app ------------------------------------------------------------------------------------


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the stream's chunk model, which only the SSE response refers to."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        chunk = ChatCompletionChunk.model_json_schema(
            ref_template=_ref("{model}"), mode="serialization"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(chunk.pop("$defs", {}))
        components["ChatCompletionChunk"] = chunk
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(
    settings: ServerSettings,
    engine: TransformersEngine | None = None,
    *,
    on_load_failure: Callable[[Exception], None] | None = None,
) -> FastAPI:
    """Build the app. Without `engine`, one is built from `settings` (weights load at startup)."""
    engine = engine or build_engine(settings)
    ui: DeferredUI | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = asyncio.Event()
        if engine.state == "loading":
            loop = asyncio.get_running_loop()

            def signal_loaded() -> None:
                with contextlib.suppress(RuntimeError):  # the server stopped before the load did
                    loop.call_soon_threadsafe(loaded.set)

            engine.start_loading(on_failure=on_load_failure, on_done=signal_loaded)
        else:
            loaded.set()
        # A model already loaded gets its page before the first request.
        page = ui.running(loaded, wait=engine.state == "ready") if ui else contextlib.nullcontext()
        async with page:
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
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.include_router(probes)
    app.include_router(v1)
    if settings.ui:
        from inference.ui import mount_ui

        ui = mount_ui(app, engine, settings)
    return app
