"""A loopback stand-in of the Hugging Face Hub's HTTP API, for the calls `huggingface_hub` makes
to create a model repository and commit files to it (HF_ENDPOINT / `HfApi(endpoint=...)`).

Shaped after huggingface_hub 2.4's own client code (read 2026-12-05), which is the reference the
Hub's API has: `HfApi.create_repo` (POST /api/repos/create; 409 with the repo's url when it
exists), `HfApi._validate_yaml` (POST /api/validate-yaml), `_commit_api._fetch_upload_modes`
(POST /api/models/{repo}/preupload/{rev}: each file's `uploadMode` and `shouldIgnore`; this
stand-in answers "regular" for every file, so no LFS or Xet transfer is needed) and
`_commit_api._send_commit` (POST /api/models/{repo}/commit/{rev}, an NDJSON body: a header line,
then one `file` line per file with base64 content; the answer has `commitUrl` and `commitOid`).
Every call needs `Authorization: Bearer <token>` with the one token it accepts.
Plain HTTP on 127.0.0.1 only; it stops by itself after `lifetime` seconds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class HubRepo:
    repo_id: str
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)  # commit summaries, oldest first


class FakeHub:
    def __init__(self, token: str, *, lifetime: float = 300.0):
        self.token = token
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    def start(self) -> FakeHub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    # ---- the API

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes):
        with self._lock:
            self.requests.append((method, path, headers))
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": "Invalid credentials in Authorization header"}
        if method == "POST" and path == "/api/repos/create":
            return self._create(json.loads(body))
        if method == "POST" and path == "/api/validate-yaml":
            return 200, {"errors": [], "warnings": []}
        parts = path.split("/")  # /api/models/{owner}/{name}/{action}/{revision}
        if method == "POST" and len(parts) == 7 and parts[:3] == ["", "api", "models"]:
            repo = self.repos.get(f"{parts[3]}/{parts[4]}")
            if repo is None:
                return 404, {"error": "Repository not found"}
            if parts[5] == "preupload":
                files = json.loads(body)["files"]
                return 200, {
                    "files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                        for f in files
                    ]
                }
            if parts[5] == "commit":
                return self._commit(repo, body)
        return 404, {"error": f"no route {method} {path} in the Hub stand-in"}

    def _create(self, payload: dict[str, Any]):
        if payload.get("type", "model") != "model":
            return 400, {"error": "the stand-in only has model repos"}
        repo_id = (
            f"{payload['organization']}/{payload['name']}"
            if payload.get("organization")
            else payload["name"]
        )
        url = f"{self.url}/{repo_id}"
        if repo_id in self.repos:
            return 409, {"error": "You already created this model repo", "url": url}
        self.repos[repo_id] = HubRepo(repo_id, payload.get("visibility") == "private")
        return 200, {"url": url, "name": repo_id}

    def _commit(self, repo: HubRepo, body: bytes):
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = lines[0]
        if header.get("key") != "header":
            return 400, {"error": "the first line must be the header"}
        for line in lines[1:]:
            if line["key"] != "file" or line["value"].get("encoding") != "base64":
                return 400, {"error": f"unsupported operation {line['key']}"}
            repo.files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
        repo.commits.append(header["value"]["summary"])
        oid = hashlib.sha1(body).hexdigest()
        return 200, {"commitUrl": f"{self.url}/{repo.repo_id}/commit/{oid}", "commitOid": oid}


def _handler_class(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, data = hub.handle(self.command, self.path.split("?")[0], headers, body)
            out = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler
