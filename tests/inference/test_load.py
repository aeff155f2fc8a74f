"""Load behaviour: concurrent streams stay separate, a full queue says 503, a gone client frees the
slot (streamed or not)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.inference.conftest import API_KEY, make_engine

MESSAGES = [{"role": "user", "content": "How do I deploy a model?"}]


@pytest.fixture(scope="module")
def small(tiny_llama):
    """Two batch slots, no waiting room (max_queue=0), a long context so a generation can run for
    seconds."""
    from inference.app import create_app
    from inference.serve import ServerThread
    from inference.settings import ServerSettings

    engine = make_engine(tiny_llama, max_queue=0, max_batch=2, context_length=4096)
    settings = ServerSettings(api_key_env="FTK_TEST_NO_KEY", ui=False)
    with ServerThread(create_app(settings, engine)) as server:
        yield server, engine
    engine.shutdown()


def _wait_idle(engine, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = engine.stats()
        if stats.running == 0 and stats.waiting == 0:
            return stats
        time.sleep(0.02)
    raise AssertionError(f"engine still busy: {engine.stats()}")


def _long_request(model: str) -> dict:
    return {"model": model, "messages": MESSAGES, "temperature": 0, "max_tokens": 3000}


def _first_content(lines) -> str:
    for line in lines:
        if line.startswith("data: {"):
            delta = json.loads(line[6:])["choices"][0]["delta"]
            if delta.get("content") and "role" not in delta:
                return line
    raise AssertionError("stream ended before any content")


def test_sixteen_concurrent_streams_each_get_their_own_tokens(server):
    url = f"{server.url}/v1/chat/completions"
    headers = {"Authorization": f"Bearer {API_KEY}"}

    def body(seed: int, stream: bool) -> dict:
        return {
            "model": "run-1",
            "messages": MESSAGES,
            "temperature": 1.0,
            "seed": seed,
            "max_tokens": 8,
            "stream": stream,
        }

    async def stream_one(client: httpx.AsyncClient, seed: int) -> tuple[str, list[str]]:
        async with client.stream("POST", url, json=body(seed, True), headers=headers) as r:
            assert r.status_code == 200
            raw = (await r.aread()).decode()
        # SSE comments (": ping", sent every 15 s on a slow box) are for proxies; clients skip them.
        events = [e for e in raw.split("\n\n") if e and not e.startswith(":")]
        chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        return text, events

    async def run_all() -> list[tuple[str, list[str]]]:
        async with httpx.AsyncClient(timeout=120) as client:
            return await asyncio.gather(*(stream_one(client, seed) for seed in range(16)))

    results = asyncio.run(run_all())
    for seed, (text, events) in enumerate(results):
        assert events[-1] == "data: [DONE]", f"stream {seed} did not end with [DONE]"
        assert json.loads(events[-2].removeprefix("data: "))["choices"][0]["finish_reason"]
        alone = httpx.post(url, json=body(seed, False), headers=headers, timeout=60).json()
        assert text == alone["choices"][0]["message"]["content"], f"stream {seed} mixed tokens"


def test_full_queue_answers_503_with_retry_after(small, tiny_llama):
    server, engine = small
    _wait_idle(engine)
    url = f"{server.url}/v1/chat/completions"
    streamed = {**_long_request(tiny_llama.name), "stream": True}
    with (
        httpx.stream("POST", url, json=streamed, timeout=60) as first,
        httpx.stream("POST", url, json=streamed, timeout=60) as second,
    ):
        lines = [first.iter_lines(), second.iter_lines()]  # dropping them closes the connections
        for running in lines:
            _first_content(running)
        third = httpx.post(url, json={**_long_request(tiny_llama.name), "max_tokens": 2})
    assert third.status_code == 503
    assert int(third.headers["Retry-After"]) > 0
    assert third.json()["error"]["code"] == "queue_full"


def test_client_leaving_mid_stream_stops_generation_and_frees_the_slot(small, tiny_llama):
    server, engine = small
    before = _wait_idle(engine)
    url = f"{server.url}/v1/chat/completions"
    with httpx.stream("POST", url, json={**_long_request(tiny_llama.name), "stream": True}) as r:
        _first_content(r.iter_lines())
    after = _wait_idle(engine)
    assert after.cancelled == before.cancelled + 1
    assert after.completed == before.completed
    follow_up = httpx.post(url, json={**_long_request(tiny_llama.name), "max_tokens": 2})
    assert follow_up.status_code == 200


def test_client_leaving_a_non_streamed_request_stops_generation(small, tiny_llama):
    server, engine = small
    before = _wait_idle(engine)
    url = f"{server.url}/v1/chat/completions"
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, json=_long_request(tiny_llama.name), timeout=0.3)
    after = _wait_idle(engine)
    assert after.cancelled == before.cancelled + 1
    assert after.completed == before.completed
