"""Turn Azure SDK exceptions into one-line `FtkError`s that name the resource and the fix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cli.errors import AuthError, FtkError, NotFoundError, UnavailableError

LOGIN_HINT = (
    "sign in with `az login` (or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, "
    "or use a managed identity), then retry"
)


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _short(exc: BaseException) -> str:
    """The service's own message, first line only (SDK messages carry long dumps)."""
    message = getattr(exc, "message", None) or str(exc)
    first = str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__
    return first[:300]


def translate(exc: BaseException, *, resource: str, role: str) -> FtkError:
    """Map one SDK exception raised while acting on `resource` to an FtkError.

    `role` names the Azure RBAC role that allows the action (used in the 403 hint).
    """
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, FtkError):
        return exc
    status = _status(exc)
    if isinstance(exc, ClientAuthenticationError) and status in (None, 401):
        return AuthError(
            f"Azure credentials are missing or expired ({_short(exc)})",
            hint=LOGIN_HINT + "; `ftk -v ...` shows what each credential source said",
        )
    if status == 401:
        return AuthError(f"Azure rejected the credentials for {resource}", hint=LOGIN_HINT)
    if status == 403:
        return AuthError(
            f"no permission for {resource}",
            hint=f"ask for the '{role}' role on it (or its resource group), then retry",
        )
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        return NotFoundError(
            f"{resource} does not exist",
            hint="check the target (`ftk outputs`); after `pulumi destroy` run `pulumi up`",
        )
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return UnavailableError(
            f"could not reach Azure for {resource}: {_short(exc)}",
            hint="check the network and retry; the command is safe to re-run",
        )
    if isinstance(exc, HttpResponseError) and status is not None:
        if status == 429 or status >= 500:
            return UnavailableError(
                f"Azure is busy or failing for {resource} (HTTP {status}, retries exhausted)",
                hint="wait a minute and re-run; the command is safe to re-run",
            )
        return FtkError(f"Azure refused the request for {resource}: {_short(exc)}")
    raise exc


@contextmanager
def azure_call(resource: str, *, role: str = "Contributor") -> Iterator[None]:
    """Run SDK calls on `resource`, raising FtkErrors instead of SDK exceptions."""
    from azure.core.exceptions import AzureError

    try:
        yield
    except AzureError as exc:
        raise translate(exc, resource=resource, role=role) from exc
