"""Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`, from one handler.

`APIError` is what our code raises; `openai_error_handler` renders it and every other exception
(validation, HTTP, unexpected) the same way, so clients such as the official `openai` package
raise their typed errors (`AuthenticationError`, `BadRequestError`, ...) with our message.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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


def unauthorized() -> APIError:
    return APIError(
        401,
        "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'.",
        code="invalid_api_key",
        headers={"WWW-Authenticate": "Bearer"},
    )


def overloaded(retry_after: int) -> APIError:
    return APIError(
        503,
        "The server is busy: the request queue is full. Retry later.",
        code="queue_full",
        headers={"Retry-After": str(retry_after)},
    )


def not_ready(reason: str, retry_after: int = 5) -> APIError:
    return APIError(503, reason, code="model_not_ready", headers={"Retry-After": str(retry_after)})


def _from_validation(exc: RequestValidationError) -> APIError:
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    message = first.get("msg", "Invalid request")
    if param:
        message = f"{param}: {message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more error(s))"
    return APIError(400, message, param=param, code="invalid_value")


def to_api_error(exc: Exception) -> APIError:
    """Map any exception to the error a client sees."""
    if isinstance(exc, APIError):
        return exc
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
    log.exception("unexpected error", exc_info=exc)
    return APIError(500, "Internal server error.", type="server_error", code="internal_error")


async def openai_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """The one handler: every error leaves the server in OpenAI's error shape."""
    error = to_api_error(exc)
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
