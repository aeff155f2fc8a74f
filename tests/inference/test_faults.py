"""Bad input and faults: invalid text is a 400, an engine fault is one log line and a clean 500,
and either way the next request is served. Also: the wire agrees with the documented models."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.inference.conftest import API_KEY

HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
HELLO = [{"role": "user", "content": "Hello"}]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= logging.ERROR]


@pytest.fixture()
def server_log() -> Iterator[_Records]:
    """Error records of our logger and of uvicorn's (which logs tracebacks of escaped errors)."""
    handler = _Records()
    loggers = [logging.getLogger(n) for n in ("inference", "uvicorn.error")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    yield handler
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def _post_raw(server, body: str, timeout: float = 60) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/chat/completions", content=body, headers=HEADERS, timeout=timeout
    )


def _assert_next_request_succeeds(client) -> None:
    reply = client.chat.completions.create(model="run-1", messages=HELLO, max_tokens=2)
    assert reply.usage.completion_tokens > 0


# A lone surrogate is legal JSON (`\ud800`) but not Unicode text; each field that carries text.
SURROGATE_BODIES = {
    "content": {"model": "run-1", "messages": [{"role": "user", "content": "hi \\ud800"}]},
    "text part": {
        "model": "run-1",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "\\udfff x"}]}],
    },
    "name": {"model": "run-1", "messages": [{"role": "user", "content": "hi", "name": "\\ud800"}]},
    "model": {"model": "run-\\ud800", "messages": [{"role": "user", "content": "hi"}]},
    "stop": {"model": "run-1", "messages": HELLO, "stop": ["\\ud800"]},
}


PARAMS = {
    "content": "messages.0.content",
    "text part": "messages.0.content.0.text",
    "name": "messages.0.name",
    "model": "model",
    "stop": "stop.0",
}


@pytest.mark.parametrize("field", list(SURROGATE_BODIES))
@pytest.mark.parametrize("stream", [False, True])
def test_lone_surrogate_is_a_400_and_the_server_keeps_serving(
    server, client, server_log, field, stream
):
    body = json.dumps({**SURROGATE_BODIES[field], "stream": stream}).replace("\\\\u", "\\u")
    assert "\\ud" in body and "\\\\" not in body  # the JSON escape itself, not an escaped one
    response = _post_raw(server, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert "surrogate" in error["message"] or "unicode" in error["message"]
    assert error["param"] == PARAMS[field]
    assert not server_log.errors()
    _assert_next_request_succeeds(client)


def test_invalid_text_from_another_caller_is_refused_by_the_engine(engine):
    from inference.generation import InvalidMessages

    with pytest.raises(InvalidMessages):
        engine.encode([{"role": "user", "content": "bad \ud800"}])


def _boom(*args, **kwargs):
    raise RuntimeError("injected fault\nwith a second line")


@pytest.mark.parametrize("where", ["while generating", "before generating"])
def test_engine_fault_is_one_log_line_and_a_clean_500(
    server, client, engine, server_log, monkeypatch, where
):
    if where == "while generating":
        monkeypatch.setattr("inference.engine.run_generate", _boom)  # one at a time, seeded
        monkeypatch.setattr("inference.batching.Batcher._deliver", _boom)  # batched
    else:
        monkeypatch.setattr(engine, "encode", _boom)
    before = engine.stats()
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="run-1", messages=HELLO, max_tokens=2)
    assert failed.value.status_code == 500
    assert failed.value.body["type"] == "server_error"  # OpenAI's shape, parsed by the client
    assert "injected" not in failed.value.message  # internals stay in the log
    errors = server_log.errors()
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].name == "inference" and errors[0].exc_info is None
    assert "injected fault" in errors[0].getMessage()
    after = engine.stats()
    assert after.failed == before.failed + (where == "while generating")
    assert (after.running, after.waiting) == (0, 0)
    monkeypatch.undo()
    _assert_next_request_succeeds(client)


def test_engine_fault_mid_stream_ends_the_stream_with_an_error_event(
    server, client, server_log, monkeypatch
):
    monkeypatch.setattr("inference.batching.Batcher._deliver", _boom)
    body = json.dumps({"model": "run-1", "messages": HELLO, "max_tokens": 2, "stream": True})
    response = _post_raw(server, body)
    assert response.status_code == 200  # the headers went out before the fault
    events = [e for e in response.text.split("\n\n") if e.startswith("data: ")]
    last = json.loads(events[-1].removeprefix("data: "))
    assert last["error"]["type"] == "server_error"
    assert len(server_log.errors()) == 1
    monkeypatch.undo()
    _assert_next_request_succeeds(client)


def test_wire_matches_the_documented_models(server, client):
    from inference.protocol import ChatCompletion, ChatCompletionChunk

    spec = httpx.get(f"{server.url}/openapi.json").json()
    ok = spec["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/ChatCompletion"}
    assert ok["text/event-stream"]["schema"] == {"$ref": "#/components/schemas/ChatCompletionChunk"}
    schemas = spec["components"]["schemas"]
    refs = {v for v in json.dumps(schemas).split('"') if v.startswith("#/components/schemas/")}
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(schemas)  # every reference resolves

    body = {"model": "run-1", "messages": HELLO, "max_tokens": 3}
    plain = _post_raw(server, json.dumps(body)).json()
    assert ChatCompletion.model_validate(plain).model_dump(mode="json") == plain
    streamed = _post_raw(server, json.dumps({**body, "stream": True})).text
    events = [e.removeprefix("data: ") for e in streamed.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    for event in events[:-1]:
        chunk = json.loads(event)
        assert ChatCompletionChunk.model_validate(chunk).model_dump(mode="json") == chunk
