"""The one OpenAI-shaped stand-in for the inference app in tests: an echo server on loopback.

In a thread: `with StandIn(key, reply=...) as server:` (it records each request body in
`server.requests`). As a process it stands in for `python -m inference serve`, taking the same
flags (--base, --adapter NAME=PATH, --port, --api-key-env):

    python -m testkit.fakes.openai_server serve --base M [--adapter NAME=PATH]... --port P

Either way it answers /ready, /health, /v1/models and streamed /v1/chat/completions
(by default "echo(<model>,<user turns>): <last user message>"), with bearer auth.

`StandIn(key, vllm=True)` answers as the vLLM app does (vLLM's server behind
`inference.vllm_app.RequireKey`): `/health` 200 with no body and no key (vllm-project/vllm
`vllm/entrypoints/serve/instrumentator/health.py`, read 2026-12-06), no `/ready` route (404), and
the key asked for on every other path first (401).

A scaled-to-zero app waking up: while `server.waking` holds statuses, each request (any route)
gets the next one instead: 502/504 as the ACA ingress answers while no replica is up, 503 with
`server.state` as the body as the server answers while loading. `server.log` records every
request as (method, path, status).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], str]


def echo_turns(body: dict[str, Any]) -> str:
    """The model, the number of user turns and the last user message, echoed."""
    users = [m["content"] for m in body["messages"] if m["role"] == "user"]
    return f"echo({body['model']},{len(users)}): {users[-1]}"


class Handler(BaseHTTPRequestHandler):
    server: StandIn
    timeout = 10  # a stuck client cannot hold a server thread forever

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, code: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _empty(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.server.key}":
            return True
        self._json(
            401,
            {
                "error": {
                    "message": "bad key",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        )
        return False

    def _still_waking(self) -> bool:
        status = self.server.waking.pop(0) if self.server.waking else 200
        self.server.log.append((self.command, self.path, status))
        if status == 200:
            return False
        body = json.dumps(self.server.state).encode() if status == 503 else b"upstream not ready"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return True

    def do_GET(self) -> None:
        if self._still_waking():
            return None
        if self.server.vllm:
            if self.path == "/health":
                return self._empty(200)
            if self.path == "/ready":
                return self._json(404, {"detail": "Not Found"}) if self._authorized() else None
        if self.path == "/ready":
            return self._json(200, {"status": "ready", "models": self.server.models})
        if self.path == "/health":
            return self._json(200, {"status": "ok"})
        if self.path == "/v1/models" and self._authorized():
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "ftk"}
                for m in self.server.models
            ]
            return self._json(200, {"object": "list", "data": data})
        return None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self._still_waking():
            return
        self.server.requests.append(body)
        if not self._authorized():
            return
        words = self.server.reply(body).split(" ")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

        def chunk(delta: dict[str, str], finish: str | None = None) -> None:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            c = {"id": "c1", "object": "chat.completion.chunk", "created": 0}
            c |= {"model": body["model"], "choices": [choice]}
            self.wfile.write(f"data: {json.dumps(c)}\n\n".encode())

        chunk({"role": "assistant", "content": ""})
        for i, w in enumerate(words):
            chunk({"content": w if i == 0 else " " + w})
        chunk({}, "stop")
        self.wfile.write(b"data: [DONE]\n\n")


class StandIn(ThreadingHTTPServer):
    """The server; as a context manager it serves from a daemon thread until the block ends."""

    daemon_threads = True

    def __init__(
        self,
        key: str,
        models: list[str] | None = None,
        reply: Reply = echo_turns,
        host: str = "127.0.0.1",
        port: int = 0,
        vllm: bool = False,
    ) -> None:
        super().__init__((host, port), Handler)
        self.key, self.models, self.reply = key, models or [], reply
        self.vllm = vllm  # answer as the vLLM app: /health only, no /ready
        self.requests: list[dict[str, Any]] = []
        self.waking: list[int] = []  # statuses to answer before the app is "up"
        self.log: list[tuple[str, str, int]] = []  # (method, path, status) of every request
        self.state: dict[str, Any] = {"status": "loading", "models": []}  # the 503 body

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> StandIn:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("serve")
    parser.add_argument("--base")
    parser.add_argument("--adapter", action="append", default=[])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--api-key-env", default="FTK_API_KEY")
    parser.add_argument("--model-cache")
    args = parser.parse_args()
    models = [args.base] + [spec.split("=", 1)[0] for spec in args.adapter]
    server = StandIn(os.environ[args.api_key_env], models, host=args.host, port=args.port)
    print(f"serving {models} on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
