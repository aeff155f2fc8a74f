"""`ftk chat`: talk to the deployed endpoint through the official `openai` client."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from cli.errors import AuthError, FtkError, NotFoundError, UnavailableError, UsageError
from cli.targets.base import Endpoint
from cli.targets.wake import INGRESS_REQUEST_LIMIT_S

if TYPE_CHECKING:  # the client loads inside client_for
    import openai

Message = dict[str, str]

# No gap between two reads of a chat request may reach the ACA ingress's limit (240 s,
# `INGRESS_REQUEST_LIMIT_S`, cited in cli/targets/wake.py; an idle timeout by issue 20's audit,
# which a streamed answer's tokens keep resetting), and the app is woken beforehand
# (`cli.targets.wake`), never inside a chat.
READ_TIMEOUT_S = INGRESS_REQUEST_LIMIT_S - 10.0
CONNECT_TIMEOUT_S = 10.0


def client_for(endpoint: Endpoint, *, timeout: float = READ_TIMEOUT_S) -> openai.OpenAI:
    if endpoint.ready is False:
        raise UnavailableError(
            f"the endpoint {endpoint.url} is not ready", hint="deploy with `ftk deploy RUN`"
        )
    import openai

    # The client's own Timeout type: openai 1.x re-exports httpx's, openai 3.x httpx2's, and each
    # refuses the other's; an httpx.Timeout handed to openai 3.x breaks every request.
    return openai.OpenAI(
        base_url=endpoint.url.rstrip("/") + "/v1",
        api_key=endpoint.api_key or "none",
        timeout=openai.Timeout(timeout, connect=CONNECT_TIMEOUT_S),
        max_retries=2,
    )


def pick_model(client: Any, endpoint: Endpoint, wanted: str | None) -> str:
    if wanted:
        return wanted
    if endpoint.model:
        return endpoint.model
    with _openai_errors(endpoint):
        models = [m.id for m in client.models.list()]
    if not models:
        raise NotFoundError("the endpoint serves no model", hint="deploy with `ftk deploy RUN`")
    return models[-1]


class _openai_errors:
    """Turn the openai client's exceptions into one-line FtkErrors."""

    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
        if exc is None:
            return False
        import openai

        if isinstance(exc, openai.AuthenticationError):
            if self.endpoint.api_key is None:
                why = self.endpoint.no_key_reason or "the target gives none"
                raise AuthError(
                    f"the endpoint needs an API key and ftk found none: {why}",
                    hint="give the app its key secret (the stack does), or add "
                    "ACA_APP_API_KEY to an --infra file",
                ) from exc
            raise AuthError(
                "the endpoint refused the API key", hint="redeploy, or check `ftk endpoint`"
            ) from exc
        if isinstance(exc, openai.APITimeoutError):
            raise UnavailableError(
                f"{self.endpoint.url} sent nothing for {READ_TIMEOUT_S:.0f} s",
                hint="the app may have scaled to zero or be overloaded; try again",
            ) from exc
        if isinstance(exc, openai.APIConnectionError):
            raise UnavailableError(
                f"cannot reach {self.endpoint.url}", hint="check `ftk endpoint`"
            ) from exc
        if isinstance(exc, openai.NotFoundError):
            raise NotFoundError(f"endpoint: {exc.message}", hint="see `ftk endpoint`") from exc
        if isinstance(exc, openai.BadRequestError):
            raise UsageError(f"endpoint rejected the request: {exc.message}") from exc
        if isinstance(exc, openai.APIStatusError):
            raise FtkError(f"endpoint error {exc.status_code}: {exc.message}") from exc
        return False


def stream_reply(
    client: Any,
    endpoint: Endpoint,
    model: str,
    messages: list[Message],
    on_delta: Callable[[str], None],
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> str:
    """Send the conversation, stream the answer through `on_delta`, return it whole."""
    kwargs: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    if temperature is not None:
        kwargs["temperature"] = temperature
    parts: list[str] = []
    with _openai_errors(endpoint):
        for chunk in client.chat.completions.create(**kwargs):
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta.content
            if delta:
                parts.append(delta)
                on_delta(delta)
    return "".join(parts)
