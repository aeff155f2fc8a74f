"""Who may call what: the API key on `/v1`, the key-gated chat UI, and the request body limit.

`/v1` takes `Authorization: Bearer KEY` (one FastAPI dependency). The Gradio UI sits behind
`UIGate`, an ASGI wrapper around the whole Gradio mount, so every Gradio route, present or
future (page, config, upload, file=, queue, ...), needs the key before Gradio sees the request.
A person signs in once through a small form (`/ui/login`); the server answers with a session
cookie: an expiry time and its HMAC under the key (HttpOnly, SameSite=Strict, Secure on https),
so it survives restarts and works across replicas, and changing the key ends every session.
Scripts may send the bearer header instead. docs/security.md explains the choice.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import socket
import struct
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference.errors import openai_error_handler, unauthorized
from inference.settings import ServerSettings

COOKIE = "ftk_ui_session"
SESSION_SECONDS = 8 * 3600
_bearer = HTTPBearer(auto_error=False)


def key_matches(given: str | None, settings: ServerSettings) -> bool:
    """True when no key is configured, or `given` equals it (constant time)."""
    if settings.api_key is None:
        return True
    expected = settings.api_key.get_secret_value().encode()
    return given is not None and hmac.compare_digest(given.encode(), expected)


async def require_key(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Every `/v1` route: `Authorization: Bearer KEY` when a key is configured."""
    given = credentials.credentials if credentials else None
    if not key_matches(given, request.app.state.settings):
        raise unauthorized()


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413 (by Content-Length, or while reading)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = HTTPException(413, f"Request body larger than {self.max_bytes} bytes.")
        length = dict(scope.get("headers", [])).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            response = await openai_error_handler(Request(scope), too_large)
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        await self.app(scope, limited, send)


# -- the chat UI --------------------------------------------------------------------------------


_MAX_EXPIRY_DIGITS = 12  # a Unix time in seconds has 10 digits until the year 2286


def cookie_name(scope: Scope) -> str:
    """`ftk_ui_session_<port>`: one per port the server listens on, since browsers send a
    host's cookies to all its ports (the server's page and `ftk ui` on one machine would
    otherwise sign each other out)."""
    server = scope.get("server") or ("", None)
    return f"{COOKIE}_{server[1]}" if server[1] else COOKIE


def _sign(key: str, expires: int, port: int | None) -> str:
    message = f"ftk-ui-session:{port or ''}:{expires}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def session_token(
    settings: ServerSettings, now: float | None = None, *, port: int | None = None
) -> str:
    """A cookie value: `<expiry>.<HMAC-SHA256(key, port and expiry)>` (valid on that port only)."""
    assert settings.api_key is not None
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    return f"{expires}.{_sign(settings.api_key.get_secret_value(), expires, port)}"


def session_valid(token: str | None, settings: ServerSettings, port: int | None = None) -> bool:
    """Whether `token` is a live session for this key and port. Anything else is False, never an
    error: a cookie is whatever a client sends (non-ASCII digits, thousands of them, ...)."""
    if settings.api_key is None:
        return True
    expires, _, mac = (token or "").partition(".")
    if not (expires.isascii() and expires.isdigit() and len(expires) <= _MAX_EXPIRY_DIGITS):
        return False
    if int(expires) < time.time() or not mac.isascii():
        return False
    expected = _sign(settings.api_key.get_secret_value(), int(expires), port)
    return hmac.compare_digest(mac.encode(), expected.encode())


def ui_authorized(request: Request, settings: ServerSettings) -> bool:
    """The session cookie, or (for scripts) the bearer header."""
    cookie = request.cookies.get(cookie_name(request.scope))
    if session_valid(cookie, settings, _port(request.scope)):
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and key_matches(given.strip(), settings)


def _port(scope: Scope) -> int | None:
    server = scope.get("server") or ("", None)
    return server[1]


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ftk chat: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:15vh auto;padding:0 1rem}}
input,button{{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.3rem 0}}
.error{{color:#b00020}}</style></head>
<body><h1>ftk chat</h1><p>{note}</p>{error}
<form method="post" action="{action}">
<label for="key">Key</label>
<input id="key" name="key" type="password" autocomplete="current-password" autofocus required>
<button id="sign-in" type="submit">Sign in</button></form></body></html>
"""


def login_page(
    root: str, settings: ServerSettings, error: str = "", status: int = 401
) -> HTMLResponse:
    shown = f'<p class="error" id="error">{html.escape(error)}</p>' if error else ""
    body = _LOGIN_PAGE.format(
        note=html.escape(settings.sign_in_note),
        error=shown,
        action=html.escape(f"{root}/ui/login"),
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _is_https(request: Request) -> bool:
    # Only decides the Secure flag: a forged header can only break the forger's own session.
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


login = APIRouter(prefix="/ui", include_in_schema=False)


@login.post("/login")
async def sign_in(request: Request, key: Annotated[str, Form(max_length=4096)] = "") -> Response:
    settings: ServerSettings = request.app.state.settings
    root = request.scope.get("root_path", "")
    if settings.api_key is None or not key_matches(key, settings):
        return login_page(root, settings, "Wrong key.")
    response = RedirectResponse(f"{root}/", status_code=303)
    response.set_cookie(
        cookie_name(request.scope),
        session_token(settings, port=_port(request.scope)),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=_is_https(request),
        path="/",
    )
    return response


@login.post("/logout")
async def sign_out(request: Request) -> Response:
    response = RedirectResponse(f"{request.scope.get('root_path', '')}/", status_code=303)
    response.delete_cookie(cookie_name(request.scope), path="/")
    return response


class UIGate:
    """Wraps the Gradio app: a request without a valid session or key never reaches it.

    Refused page loads get the sign-in form (401); anything else gets a 401 error body; a
    websocket is closed with 1008 (policy violation).
    """

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.settings.api_key is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if ui_authorized(request, self.settings):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        wants_page = request.method in ("GET", "HEAD") and "text/html" in request.headers.get(
            "accept", ""
        )
        response = (
            login_page(scope.get("root_path", ""), self.settings)
            if wants_page
            else unauthorized().response()
        )
        await response(scope, receive, send)


# -- `ftk ui`: only this machine's user -----------------------------------------------------------

_PROC_TCP = Path("/proc/net/tcp")


def _proc_address(host: str, port: int) -> str:
    """An IPv4 endpoint as /proc/net/tcp prints it: the address as a native-endian hex word."""
    (word,) = struct.unpack("=I", socket.inet_aton(host))
    return f"{word:08X}:{port:04X}"


def loopback_peer_uid(client: tuple[str, int], server: tuple[str, int]) -> int | None:
    """The uid owning the client's end of a loopback TCP connection (Linux: /proc/net/tcp lists
    every socket of this network namespace with its owner), or None when it is not listed."""
    try:
        local, remote = _proc_address(*client), _proc_address(*server)
        lines = _PROC_TCP.read_text().splitlines()[1:]
    except (OSError, ValueError):
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 7 and fields[1] == local and fields[2] == remote:
            return int(fields[7])
    return None


class SameUserOnly:
    """`ftk ui`'s page answers connections from its own user (and root) only.

    Loopback is shared by every user of the machine, and browsers send a host's cookies to all
    its ports: another user listening on some 127.0.0.1 port can be sent the session cookie and
    replay it. Whoever replays it connects as themselves, so the session is bound to the user
    that opened the connection, which the kernel reports (Linux). Where it cannot (no
    /proc/net/tcp: macOS, Windows) the check is off, as docs/security.md says.
    """

    def __init__(self, app: ASGIApp, uids: frozenset[int] | None = None) -> None:
        self.app = app
        self.uids = uids if uids is not None else frozenset({os.getuid(), 0})
        self.enforced = _PROC_TCP.exists()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client, server = scope.get("client"), scope.get("server")
        if (
            not self.enforced
            or scope["type"] not in ("http", "websocket")
            or (client and server and loopback_peer_uid(client, server) in self.uids)
        ):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = PlainTextResponse(
            "This page answers its own user's connections only.\n", status_code=403
        )
        await response(scope, receive, send)
