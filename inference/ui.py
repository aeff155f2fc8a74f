"""The Gradio chat page at `/`: same engine, same queue, same key as the API.

History, streaming, a model picker and the sliders of the AI Toolkit template (max new tokens,
temperature, top-p, top-k). When the server has an API key, the whole Gradio mount sits behind
`inference.guards.UIGate`: a person signs in with the key once (a session cookie), a script sends
the bearer header; without either, no Gradio route is reached.

The page is built after the model has loaded (`DeferredUI`): importing Gradio takes seconds, and
neither the API nor `/ready` should wait for a page that API clients never open. Until it is up,
a browser gets a short page that reloads itself, anything else a 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from inference.errors import APIError, openai_error_handler
from inference.generation import Engine, EngineError, GenerationRequest
from inference.guards import BodyLimit, SameUserOnly, UIGate, login
from inference.protocol import TEMPERATURE_MAX
from inference.settings import ServerSettings

log = logging.getLogger("inference")
RETRY_SECONDS = 3


def _text(content: Any) -> str:
    """Gradio 6 history content: a string, a text part, or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, list | tuple):
        return "".join(_text(part) for part in content)
    return ""


def history_to_messages(message: str, history: list[dict[str, Any]]) -> list[dict[str, str]]:
    turns = [
        {"role": turn["role"], "content": _text(turn.get("content"))}
        for turn in history
        if turn.get("role") in ("system", "user", "assistant")
    ]
    return [*turns, {"role": "user", "content": message}]


def build_ui(engine: Engine, settings: ServerSettings) -> Any:
    import gradio as gr

    async def respond(
        message: str,
        history: list[dict[str, Any]],
        model: str,
        max_new_tokens: float,
        temperature: float,
        top_p: float,
        top_k: float,
    ) -> AsyncIterator[str]:
        request = GenerationRequest(
            model=model,
            messages=history_to_messages(message, history),
            max_tokens=int(max_new_tokens),
            temperature=float(temperature),
            top_p=float(top_p),
            top_k=int(top_k),
        )
        try:
            generation = engine.submit(request)
        except EngineError as exc:
            raise gr.Error(exc.message) from exc
        answer = ""
        try:
            async for event in generation:
                answer += event.text
                yield answer
        finally:
            generation.close()

    limit = max(1, settings.max_tokens_limit)
    inputs = [
        gr.Dropdown(engine.model_ids, value=engine.model_ids[0], label="Model"),
        gr.Slider(1, limit, value=min(256, limit), step=1, label="Max new tokens"),
        gr.Slider(0.0, TEMPERATURE_MAX, value=0.7, step=0.05, label="Temperature (0 = greedy)"),
        gr.Slider(0.05, 1.0, value=0.95, step=0.05, label="Top-p"),
        gr.Slider(0, 200, value=50, step=1, label="Top-k (0 = off)"),
    ]
    return gr.ChatInterface(
        respond,
        title="ftk chat",
        description="Chat with the served model. The same endpoint speaks the OpenAI API at /v1.",
        additional_inputs=inputs,
        additional_inputs_accordion=gr.Accordion("Settings", open=False),
        concurrency_limit=4,
        analytics_enabled=False,
        flagging_mode="never",
    )


_STARTING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ftk chat: starting</title>
{refresh}
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:15vh auto;padding:0 1rem}}
</style></head><body><h1>ftk chat</h1><p id="status">{message}</p></body></html>
"""


class DeferredUI:
    """The Gradio app as an ASGI app that exists once `run()` has built it.

    `run()` waits for the model, builds the page on a worker thread (Gradio's import is the slow
    part), runs Gradio's start-up (its app's lifespan) and serves until `stop()`. Starlette's
    `Mount.routes` reads `routes`: Gradio's routes once built, none before.
    """

    def __init__(self, engine: Engine, settings: ServerSettings) -> None:
        self._engine, self._settings = engine, settings
        self._app: FastAPI | None = None
        self._error: str | None = None
        self._stop = asyncio.Event()
        self.settled = asyncio.Event()  # set once the page is served or has failed to start

    @property
    def serving(self) -> bool:
        return self._app is not None

    @property
    def routes(self) -> list[Any]:
        mount = self._app.routes[-1] if self._app is not None else None
        return list(getattr(mount, "routes", []))

    def _build(self) -> FastAPI:
        import gradio as gr

        holder = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        return gr.mount_gradio_app(
            holder,
            build_ui(self._engine, self._settings),
            path="/",
            footer_links=[],
            run_history=False,
            show_error=True,
            ssr_mode=False,
            mcp_server=False,
        )

    async def run(self, model_loaded: asyncio.Event) -> None:
        """Build once the model has loaded, start Gradio, serve until `stop()`."""
        try:
            await model_loaded.wait()
            if self._engine.state != "ready":
                self._error = "the model failed to load"
                return
            try:
                app = await asyncio.to_thread(self._build)
            except Exception as exc:  # the API keeps serving without the page
                self._error = "building the page failed"
                log.error("the chat page failed to start: %s: %s", type(exc).__name__, exc)
                return
            async with app.router.lifespan_context(app):
                self._app = app
                self.settled.set()
                log.info("chat page ready at /")
                await self._stop.wait()
                self._app = None
        finally:
            self.settled.set()

    def stop(self) -> None:
        self._stop.set()

    @contextlib.asynccontextmanager
    async def running(self, model_loaded: asyncio.Event, *, wait: bool) -> AsyncIterator[None]:
        """For a lifespan: `run()` in a task for the life of the block; with `wait`, the block
        starts only once the page is served (or has failed to start)."""
        task = asyncio.create_task(self.run(model_loaded))
        if wait:
            await self.settled.wait()
        try:
            yield
        finally:
            self.stop()
            if not self.serving:
                task.cancel()  # still waiting for the model or building: nothing to shut down
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app
        if app is not None:
            await app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})  # try again later
            return
        request = Request(scope)
        failed = self._error is not None
        message = (
            f"The chat page is unavailable: {self._error}; the server log says why."
            if failed
            else "The chat page is starting: the model loads first. This page reloads itself."
        )
        retry = {} if failed else {"Retry-After": str(RETRY_SECONDS)}
        if request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", ""):
            refresh = "" if failed else f'<meta http-equiv="refresh" content="{RETRY_SECONDS}">'
            page = _STARTING_PAGE.format(refresh=refresh, message=html.escape(message))
            response: Response = HTMLResponse(
                page, status_code=503, headers={**retry, "Cache-Control": "no-store"}
            )
        else:
            response = APIError(503, message, code="ui_not_ready", headers=retry).response()
        await response(scope, receive, send)


def mount_ui(app: FastAPI, engine: Engine, settings: ServerSettings) -> DeferredUI:
    """Mount the chat page at `/` (after every other route, which keep precedence), behind the
    key gate when the server has a key. The caller runs the returned `DeferredUI` in its
    lifespan."""
    if settings.api_key is not None:
        app.include_router(login)
    ui = DeferredUI(engine, settings)
    mount = Mount("/", app=ui)
    mount.app = UIGate(ui, settings)  # `mount.routes` still reads the page's own routes
    app.router.routes.append(mount)
    return ui


def page_app(engine: Engine, settings: ServerSettings) -> FastAPI:
    """The chat page alone, behind the same gate and sign-in form (`ftk ui`): no API routes; the
    same body limit as the server (413), and only its own user's connections (loopback)."""
    ui: DeferredUI | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        assert ui is not None
        loaded = asyncio.Event()
        loaded.set()
        async with ui.running(loaded, wait=True):
            yield

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.add_exception_handler(HTTPException, openai_error_handler)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SameUserOnly)  # outermost: another user's connection gets nothing else
    ui = mount_ui(app, engine, settings)
    return app
