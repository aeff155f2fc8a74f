"""A loopback HTTPS server for fakes: throwaway CA, fault injection, stops by itself.

Handlers get a `Request` and return a `Response`; the server adds latency, answers with injected
statuses (429, 500, ...) or drops the connection, as the `Faults` say. Only 127.0.0.1 is bound.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str  # percent-decoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    raw: str  # the request target as sent

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None  # written as it is produced, then the socket closes

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(
            status,
            json.dumps(data).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )


class DropConnection(Exception):
    """Raised by a handler (or a fault) to close the socket without an answer."""


@dataclass
class Rule:
    match: str  # substring of "METHOD /path?query"
    status: int | None = None  # answer with this status; None: drop the connection
    times: int = 1
    skip: int = 0  # let this many matching requests through first
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0


class Faults:
    """What goes wrong, and when. Thread-safe; rules fire in the order they were added."""

    def __init__(self) -> None:
        self.latency = 0.0  # seconds added to every request
        self._rules: list[Rule] = []
        self._lock = threading.Lock()

    def fail(
        self, match: str, status: int, *, times: int = 1, skip: int = 0, retry_after: str = "0"
    ) -> Rule:
        headers = {"Retry-After": retry_after} if status in (429, 503) else {}
        return self._add(Rule(match, status, times, skip, headers))

    def drop(self, match: str, *, times: int = 1, skip: int = 0) -> Rule:
        return self._add(Rule(match, None, times, skip))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.latency = 0.0

    def _add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def pick(self, line: str) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.match in line and rule.hits < rule.skip + rule.times:
                    rule.hits += 1
                    if rule.hits > rule.skip:
                        return rule
        return None


Handler = Callable[[Request], Response]


class LoopbackHTTPS:
    """Serve `handler` over HTTPS on 127.0.0.1 with a fresh CA; shuts down after `lifetime`."""

    def __init__(self, handler: Handler, workdir: Path, *, lifetime: float = 900.0):
        import trustme

        self.handler = handler
        self.faults = Faults()
        self.log: list[str] = []
        self._log_lock = threading.Lock()
        ca = trustme.CA()
        self.ca_file = str(workdir / "fake-ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        self._ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(self._ctx)
        self._server = _Server(("127.0.0.1", 0), _make_handler_class(self))
        self._server.socket = self._ctx.wrap_socket(
            self._server.socket, server_side=True, do_handshake_on_connect=False
        )
        self.port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._lifetime = lifetime
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def start(self) -> LoopbackHTTPS:
        self._thread = threading.Thread(target=self._serve, name="fake-azure", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        watchdog = threading.Timer(self._lifetime, self.stop)
        watchdog.daemon = True
        watchdog.start()
        try:
            self._server.serve_forever(poll_interval=0.05)
        finally:
            watchdog.cancel()

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def record(self, line: str) -> None:
        with self._log_lock:
            self.log.append(line)

    def requests_matching(self, text: str) -> list[str]:
        with self._log_lock:
            return [line for line in self.log if text in line]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # dropped and reset connections are part of the game


def _make_handler_class(server: LoopbackHTTPS) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=unquote(parts.path),
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                raw=self.path,
            )
            line = f"{self.command} {self.path}"
            server.record(line)
            if server.faults.latency:
                time.sleep(server.faults.latency)
            rule = server.faults.pick(line)
            try:
                if rule is not None and rule.status is None:
                    raise DropConnection
                if rule is not None:
                    response = Response.json(
                        rule.status or 500,
                        {"error": {"code": "Injected", "message": "injected fault"}},
                        {**rule.headers, "x-ms-error-code": "ServerBusy"},
                    )
                else:
                    response = server.handler(request)
            except DropConnection:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(response)

        def _send(self, response: Response) -> None:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.stream is None:
                if "Content-Length" not in response.headers:
                    self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)
                return
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for chunk in response.stream:
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except DropConnection:
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client went away (Ctrl-C): nothing to do

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = _dispatch

    return _Handler
