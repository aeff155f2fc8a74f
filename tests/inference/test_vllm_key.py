"""vLLM's `--api-key` guards only `/v1` (and `/v2`, `/inference`); `/invocations` runs the same
completions and `/tokenize`, `/metrics`, `/version` are open. `inference.vllm_app.RequireKey`, added
the way vLLM's `--middleware` hook adds a class (`app.add_middleware(cls)`), asks for the key on
every path but `/health`. The stand-in below exposes those routes as vLLM's server does."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, WebSocket
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

KEY = "vllm-test-key-0123"
OPEN_IN_VLLM = [
    ("POST", "/invocations"),
    ("POST", "/tokenize"),
    ("POST", "/detokenize"),
    ("GET", "/metrics"),
    ("GET", "/version"),
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("GET", "/load"),
]


@pytest.fixture()
def client(monkeypatch) -> TestClient:
    monkeypatch.setenv("FTK_API_KEY", KEY)
    from inference.vllm_app import MIDDLEWARE, RequireKey

    stand_in = FastAPI()
    for method, path in [*OPEN_IN_VLLM, ("GET", "/health")]:
        stand_in.add_api_route(path, lambda: {"ok": True}, methods=[method])

    @stand_in.websocket("/v1/realtime")
    async def realtime(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text("hello")
        await socket.close()

    assert f"{RequireKey.__module__}.{RequireKey.__name__}" == MIDDLEWARE  # what vLLM imports
    stand_in.add_middleware(RequireKey)
    return TestClient(stand_in)


@pytest.mark.parametrize(("method", "path"), OPEN_IN_VLLM)
def test_every_route_but_health_needs_the_key(client, method, path) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        refused = client.request(method, path, headers=headers)
        assert refused.status_code == 401, (path, headers)
        assert refused.json()["error"]["code"] == "invalid_api_key"
    allowed = client.request(method, path, headers={"Authorization": f"Bearer {KEY}"})
    assert allowed.status_code == 200, path


def test_health_answers_without_the_key(client) -> None:
    assert client.get("/health").status_code == 200


def test_websockets_need_the_key_too(client) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/v1/realtime") as socket:
        socket.receive_text()
    headers = {"Authorization": f"Bearer {KEY}"}
    with client.websocket_connect("/v1/realtime", headers=headers) as socket:
        assert socket.receive_text() == "hello"


def test_without_a_key_in_the_environment_everything_but_health_is_refused(monkeypatch) -> None:
    monkeypatch.delenv("FTK_API_KEY", raising=False)
    from inference.vllm_app import RequireKey

    stand_in = FastAPI()
    stand_in.add_api_route("/version", lambda: {"ok": True}, methods=["GET"])
    stand_in.add_middleware(RequireKey)
    client = TestClient(stand_in)
    assert client.get("/version", headers={"Authorization": "Bearer "}).status_code == 401
