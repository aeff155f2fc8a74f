"""The chat page is built after the model has loaded, so neither the API nor `/ready` waits for
Gradio; until it is up the page says so (and reloads itself), and a page that fails to build
leaves the API serving."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.inference.conftest import API_KEY

BEARER = {"Authorization": f"Bearer {API_KEY}"}
HTML = {"Accept": "text/html", **BEARER}


@pytest.fixture()
def gated_engine(tiny_llama) -> Iterator:
    """An engine whose weights load only when the test opens `gate`."""
    from inference.engine import TransformersEngine

    class GatedEngine(TransformersEngine):
        gate = threading.Event()

        def load(self) -> None:
            self.gate.wait(timeout=120)
            super().load()

    engine = GatedEngine(str(tiny_llama))
    yield engine
    engine.gate.set()
    engine.shutdown()


@pytest.fixture()
def build_calls(monkeypatch) -> list[str]:
    """Records the engine's state each time the page is built."""
    from inference.ui import DeferredUI

    calls: list[str] = []
    build = DeferredUI._build

    def recorded(self):
        calls.append(self._engine.state)
        return build(self)

    monkeypatch.setattr(DeferredUI, "_build", recorded)
    return calls


def _until_page(url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        page = httpx.get(f"{url}/", headers=HTML, timeout=30)
        if page.status_code != 503 or time.monotonic() > deadline:
            return page
        time.sleep(0.2)  # what the starting page's own refresh does, faster


def test_the_page_waits_for_the_model_and_says_so_then_serves(gated_engine, build_calls):
    from inference.app import create_app
    from inference.serve import ServerThread
    from inference.settings import ServerSettings

    app = create_app(ServerSettings(api_key=API_KEY, ui=True), gated_engine)
    with ServerThread(app) as server:
        page = httpx.get(f"{server.url}/", headers=HTML)
        assert page.status_code == 503
        assert "starting" in page.text and 'http-equiv="refresh"' in page.text
        assert page.headers["Retry-After"] == "3"
        script = httpx.get(f"{server.url}/config", headers=BEARER)
        assert script.status_code == 503 and script.json()["error"]["code"] == "ui_not_ready"
        assert httpx.get(f"{server.url}/").status_code == 401  # the key still comes first
        assert httpx.get(f"{server.url}/ready").status_code == 503
        assert build_calls == []  # nothing of Gradio while the weights load

        gated_engine.gate.set()
        server.wait_ready()
        page = _until_page(server.url)
        assert page.status_code == 200 and "gradio" in page.text.lower()
        assert build_calls == ["ready"]


def test_a_server_stopped_while_the_model_loads_stops_at_once(gated_engine, build_calls):
    from inference.app import create_app
    from inference.serve import ServerThread
    from inference.settings import ServerSettings

    server = ServerThread(create_app(ServerSettings(api_key=API_KEY, ui=True), gated_engine))
    server.start()
    assert httpx.get(f"{server.url}/", headers=HTML).status_code == 503
    server.stop()
    assert not server._thread.is_alive()
    assert build_calls == []


def test_a_page_that_fails_to_build_leaves_the_api_serving(engine, monkeypatch, caplog):
    from fastapi.testclient import TestClient

    from inference.app import create_app
    from inference.settings import ServerSettings
    from inference.ui import DeferredUI

    def broken(self):
        raise ImportError("No module named 'gradio'")

    monkeypatch.setattr(DeferredUI, "_build", broken)
    app = create_app(ServerSettings(api_key=API_KEY, ui=True), engine)
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 200
        assert client.get("/v1/models", headers=BEARER).status_code == 200
        page = client.get("/", headers=HTML)
        assert page.status_code == 503
        assert "unavailable" in page.text and "refresh" not in page.text
        assert "Retry-After" not in page.headers
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == ["the chat page failed to start: ImportError: No module named 'gradio'"]
