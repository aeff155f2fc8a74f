"""The wake-and-wait poller (`cli.targets.wake.wait_ready`) on its own: which answers mean "still
waking", which end the wait at once. `timeout=0` makes one poll, so nothing sleeps. The CLI's
use of it (progress, --wait, Ctrl-C) is tested in test_azure_chat.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cli.errors import ExitCode, FtkError, UnavailableError
from cli.targets.wake import wait_ready


class _Ready(BaseHTTPRequestHandler):
    """Answers every GET with the server's `answer`: (status, JSON body or None)."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        status, body = self.server.answer  # type: ignore[attr-defined]
        data = json.dumps(body).encode() if body is not None else b"upstream not ready"
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def ready_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_a_refused_connection_is_still_waking():
    """Before the ingress routes to a replica a connection may fail outright: not an error."""
    with pytest.raises(UnavailableError, match=r"last answer: no connection") as caught:
        wait_ready("http://127.0.0.1:9", timeout=0)  # discard port: refused
    assert "--wait SECONDS" in (caught.value.hint or "")


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_answers_are_still_waking(ready_server, status):
    ready_server.answer = (status, None)
    with pytest.raises(UnavailableError, match=rf"last answer: HTTP {status}"):
        wait_ready(_url(ready_server), timeout=0)


def test_a_model_that_failed_to_load_ends_the_wait_at_once(ready_server):
    ready_server.answer = (503, {"status": "failed", "error": "CUDA out of memory"})
    with pytest.raises(FtkError, match="failed to load its model: CUDA out of memory") as caught:
        wait_ready(_url(ready_server), timeout=600)
    assert caught.value.exit_code == ExitCode.FAILED


def test_another_status_is_not_an_inference_server(ready_server):
    ready_server.answer = (404, {"detail": "Not Found"})
    with pytest.raises(FtkError, match="answered HTTP 404") as caught:
        wait_ready(_url(ready_server), timeout=600)
    assert caught.value.exit_code == ExitCode.FAILED and "ftk endpoint" in (caught.value.hint or "")


def test_ready_returns_and_check_can_stop_the_wait(ready_server):
    ready_server.answer = (200, {"status": "ready", "models": ["m"]})
    assert wait_ready(_url(ready_server), timeout=0) >= 0

    def server_exited() -> None:
        raise FtkError("the local inference server exited before it was ready")

    ready_server.answer = (503, {"status": "loading", "models": []})
    with pytest.raises(FtkError, match="exited before it was ready"):
        wait_ready(_url(ready_server), timeout=600, check=server_exited)
