"""The chat page's handler: same engine, whole history, streaming, engine refusals shown."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from inference.ui import history_to_messages


def _respond(engine, **settings):
    from inference.settings import ServerSettings
    from inference.ui import build_ui

    return build_ui(engine, ServerSettings(ui=True, **settings)).fn


def _collect(gen) -> list[str]:
    async def run():
        return [partial async for partial in gen]

    return asyncio.run(run())


def test_gradio_history_becomes_the_conversation():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {"role": "assistant", "content": "Hello!"},
    ]
    assert history_to_messages("Bye", history) == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"},
    ]


def test_ui_streams_growing_answers_from_the_engine(engine):
    respond = _respond(engine, api_key_env="FTK_TEST_NO_KEY")
    history = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    partials = _collect(respond("And now?", history, "run-1", 6, 0.0, 1.0, 0))
    assert len(partials) > 1, partials
    assert all(b.startswith(a) for a, b in itertools.pairwise(partials))


def test_ui_shows_an_engine_refusal_as_a_gradio_error(engine):
    import gradio as gr

    respond = _respond(engine, api_key_env="FTK_TEST_NO_KEY")
    with pytest.raises(gr.Error, match="invalid text"):
        _collect(respond("bad \ud800 text", [], "run-1", 4, 0.0, 1.0, 0))
    assert _collect(respond("Hi", [], "run-1", 4, 0.0, 1.0, 0))
