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
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
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


def _sign(key: str, expires: int) -> str:
    return hmac.new(key.encode(), f"ftk-ui-session:{expires}".encode(), hashlib.sha256).hexdigest()


def session_token(settings: ServerSettings, now: float | None = None) -> str:
    """A cookie value: `<expiry>.<HMAC-SHA256(key, expiry)>`."""
    assert settings.api_key is not None
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    return f"{expires}.{_sign(settings.api_key.get_secret_value(), expires)}"


def session_valid(token: str | None, settings: ServerSettings) -> bool:
    if settings.api_key is None:
        return True
    expires, _, mac = (token or "").partition(".")
    if not expires.isdigit() or int(expires) < time.time():
        return False
    expected = _sign(settings.api_key.get_secret_value(), int(expires))
    return hmac.compare_digest(mac.encode(), expected.encode())


def ui_authorized(request: Request, settings: ServerSettings) -> bool:
    """The session cookie, or (for scripts) the bearer header."""
    if session_valid(request.cookies.get(COOKIE), settings):
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and key_matches(given.strip(), settings)


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
        COOKIE,
        session_token(settings),
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
    response.delete_cookie(COOKIE, path="/")
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
