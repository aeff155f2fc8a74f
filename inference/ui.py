"""The Gradio chat page at `/`: same engine, same queue, same key as the API.

History, streaming, a model picker and the sliders of the AI Toolkit template (max new tokens,
temperature, top-p, top-k). When the server has an API key, the whole Gradio mount sits behind
`inference.guards.UIGate`: a person signs in with the key once (a session cookie), a script sends
the bearer header; without either, no Gradio route is reached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.routing import Mount

from inference.engine import TransformersEngine
from inference.generation import EngineError, GenerationRequest
from inference.guards import UIGate, login
from inference.protocol import TEMPERATURE_MAX
from inference.settings import ServerSettings


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


def build_ui(engine: TransformersEngine, settings: ServerSettings) -> Any:
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


def mount_ui(app: FastAPI, engine: TransformersEngine, settings: ServerSettings) -> None:
    """Mount the chat page at `/` (after every other route, which keep precedence), behind the
    key gate when the server has a key."""
    import gradio as gr

    if settings.api_key is not None:
        app.include_router(login)

    gr.mount_gradio_app(
        app,
        build_ui(engine, settings),
        path="/",
        footer_links=[],
        run_history=False,
        show_error=True,
        ssr_mode=False,
        mcp_server=False,
    )
    mount = app.routes[-1]  # mount_gradio_app adds the Gradio app last
    if not isinstance(mount, Mount):
        raise RuntimeError(f"expected the Gradio mount as the last route, got {mount!r}")
    mount.app = UIGate(mount.app, settings)
