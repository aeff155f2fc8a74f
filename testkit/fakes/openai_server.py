"""Stands in for `python -m inference serve` in tests: an OpenAI-shaped echo server on loopback.

Takes the same flags (--base, --adapter NAME=PATH, --port, --api-key-env); answers /ready,
/v1/models and streamed /v1/chat/completions ("echo: <last user message>"), with bearer auth.
"""

import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("serve")
parser.add_argument("--base")
parser.add_argument("--adapter")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int)
parser.add_argument("--api-key-env", default="FTK_API_KEY")
parser.add_argument("--model-cache")
args = parser.parse_args()
KEY = os.environ[args.api_key_env]
MODELS = [args.base] + ([args.adapter.split("=", 1)[0]] if args.adapter else [])


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self):
        if self.headers.get("Authorization") == f"Bearer {KEY}":
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

    def do_GET(self):
        if self.path in ("/ready", "/health"):
            return self._json(200, {"status": "ok"})
        if self.path == "/v1/models" and self._authorized():
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "ftk"} for m in MODELS]
            return self._json(200, {"object": "list", "data": data})
        return None

    def do_POST(self):
        if not self._authorized():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        users = [m["content"] for m in body["messages"] if m["role"] == "user"]
        words = f"echo({body['model']},{len(users)}): {users[-1]}".split(" ")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

        def chunk(delta, finish=None):
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            c = {"id": "c1", "object": "chat.completion.chunk", "created": 0}
            c |= {"model": body["model"], "choices": [choice]}
            self.wfile.write(f"data: {json.dumps(c)}\n\n".encode())

        chunk({"role": "assistant", "content": ""})
        for i, w in enumerate(words):
            chunk({"content": w if i == 0 else " " + w})
        chunk({}, "stop")
        self.wfile.write(b"data: [DONE]\n\n")


print(f"serving {MODELS} on {args.port}", flush=True)
ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()
