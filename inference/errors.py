"""Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`; the one place
that maps errors to HTTP.

The engine raises domain errors (`inference.generation`); routes raise `APIError`; FastAPI raises
validation and HTTP errors. `to_api_error` maps each to the status and body a client sees, so
clients such as the official `openai` package raise their typed errors (`AuthenticationError`,
`BadRequestError`, ...) with our message. `OpenAIRoute` catches everything a route raises, so an
unexpected fault is one log line and a clean 500, and the connection stays usable.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from inference.generation import (
    ContextTooLong,
    EngineError,
    GenerationFailed,
    InvalidMessages,
    NotReady,
    Overloaded,
    TokenLimitExceeded,
    UnknownModel,
)

log = logging.getLogger("inference")

_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


class APIError(Exception):
    """An error a client caused or can retry; rendered as an OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type or _TYPES.get(status, "server_error")
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> Response:
        # ASCII-escaped JSON: renders even if a message quotes text that is not valid Unicode.
        return Response(
            json.dumps(self.body()),
            status_code=self.status,
            headers=self.headers,
            media_type="application/json",
        )


def unauthorized() -> APIError:
    return APIError(
        401,
        "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'.",
        code="invalid_api_key",
        headers={"WWW-Authenticate": "Bearer"},
    )


# (status, code) per domain error; the first matching class wins (NotReady before Overloaded).
_ENGINE_ERRORS: list[tuple[type[EngineError], int, str]] = [
    (UnknownModel, 404, "model_not_found"),
    (InvalidMessages, 400, "invalid_value"),
    (ContextTooLong, 400, "context_length_exceeded"),
    (TokenLimitExceeded, 400, "invalid_value"),
    (NotReady, 503, "model_not_ready"),
    (Overloaded, 503, "queue_full"),
    (GenerationFailed, 500, "internal_error"),
]


def from_engine(exc: EngineError) -> APIError:
    """The HTTP form of a domain error: status, code, and Retry-After when it is worth a retry."""
    status, code = next(((s, c) for t, s, c in _ENGINE_ERRORS if isinstance(exc, t)), (500, None))
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Overloaded) else None
    return APIError(status, exc.message, code=code, param=exc.param, headers=headers)


def _from_validation(exc: RequestValidationError) -> APIError:
    errors = exc.errors()
    # Our own checks (value errors) say more than a union's "not a list" for the other branch.
    first = next((e for e in errors if e.get("type") == "value_error"), errors[0] if errors else {})
    # Leave out "body" and pydantic's union branch tags such as "list[ContentPart]".
    loc = [str(p) for p in first.get("loc", ()) if p != "body" and "[" not in str(p)]
    param = ".".join(loc) or None
    message = first.get("msg", "Invalid request")
    if param:
        message = f"{param}: {message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more error(s))"
    return APIError(400, message, param=param, code="invalid_value")


def to_api_error(exc: BaseException) -> APIError:
    """Map any exception to the error a client sees; an unexpected one is logged in one line."""
    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, EngineError):
        return from_engine(exc)
    if isinstance(exc, RequestValidationError):
        return _from_validation(exc)
    if isinstance(exc, HTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
        return APIError(
            exc.status_code,
            str(exc.detail),
            code=code.get(exc.status_code),
            headers=dict(exc.headers or {}),
        )
    log.error("unexpected error: %s: %s", type(exc).__name__, exc)
    log.debug("unexpected error traceback", exc_info=exc)
    return APIError(500, "Internal server error.", type="server_error", code="internal_error")


async def openai_error_handler(request: Request, exc: Exception) -> Response:
    """App-level handler (routing errors, middleware): OpenAI's error shape."""
    return to_api_error(exc).response()


class OpenAIRoute(APIRoute):
    """A route whose every exception becomes an OpenAI error response, here and not in
    Starlette's server-error middleware (which would log a traceback and re-raise)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return to_api_error(exc).response()

        return handle
