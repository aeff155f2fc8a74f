"""Where ftk's Azure SDK clients point and how they retry: one injectable `AzureConnection`.

Production uses the public cloud endpoints and `DefaultAzureCredential`. Tests (and proxies)
override the endpoints, the credential and the CA bundle, so the real SDK clients talk to a
loopback fake. Sovereign clouds are not supported: their token audiences and authority host
differ from the public cloud's, and ftk always asks for public-cloud tokens. Every SDK import
happens inside a function: importing this module is cheap.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.storage import StorageManagementClient
    from azure.monitor.query import LogsQueryClient

T = TypeVar("T")

ARM_ENDPOINT = "https://management.azure.com"
LOGS_ENDPOINT = "https://api.loganalytics.io"
PORTAL = "https://portal.azure.com"

# Environment overrides, for proxies and tests (not sovereign clouds: see above).
ENV_ARM_ENDPOINT = "FTK_AZURE_ARM_ENDPOINT"
ENV_STORAGE_ENDPOINT = "FTK_AZURE_STORAGE_ENDPOINT"  # may contain {account}
ENV_LOGS_ENDPOINT = "FTK_AZURE_LOGS_ENDPOINT"
ENV_CA_BUNDLE = "FTK_AZURE_CA_BUNDLE"
ENV_POLL_SECONDS = "FTK_AZURE_POLL_SECONDS"  # long-running operations, revision readiness
ENV_RETRY_BACKOFF = "FTK_AZURE_RETRY_BACKOFF"  # SDK retry backoff factor (seconds)


def quiet_sdk_logs() -> None:
    """Keep the Azure SDKs' log records off stderr unless `ftk -v` configured logging.

    With no handler configured, Python's last-resort handler prints warnings on stderr, and
    DefaultAzureCredential logs a warning listing every credential it tried, several paragraphs
    long, before it raises. The failure reaches the user anyway as one line with a hint
    (`errors.translate`); `ftk -v` configures logging and shows the details.
    """
    if not logging.getLogger().handlers:
        logging.getLogger("azure").setLevel(logging.CRITICAL)


def default_credential() -> TokenCredential:
    """`DefaultAzureCredential` without the interactive browser (a CLI must not pop windows)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


@dataclass(frozen=True)
class AzureConnection:
    """Endpoints, credential and retry settings shared by every Azure client ftk builds."""

    arm_endpoint: str = ARM_ENDPOINT
    # None: https://<account>.file.core.windows.net; otherwise a URL template with {account}.
    storage_endpoint: str | None = None
    logs_endpoint: str = LOGS_ENDPOINT
    connection_verify: bool | str = True
    credential_factory: Callable[[], TokenCredential] | None = None  # None: DefaultAzureCredential
    # SDK retry policies (exponential backoff); throttling and 5xx are retried by the SDKs.
    retry_total: int = 6
    retry_backoff_factor: float = 0.8
    retry_backoff_max: float = 60.0
    # Long-running operations and revision readiness.
    polling_interval: float = 5.0
    deploy_timeout: float = 900.0
    # Parallel connections to the file share (upload/download pool size).
    max_connections: int = 32
    _credential: list[Any] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def from_env(cls, **overrides: Any) -> AzureConnection:
        """Defaults, with the FTK_AZURE_* environment overrides applied, then `overrides`."""
        values: dict[str, Any] = {}
        if arm := os.environ.get(ENV_ARM_ENDPOINT):
            values["arm_endpoint"] = arm.rstrip("/")
        if storage := os.environ.get(ENV_STORAGE_ENDPOINT):
            values["storage_endpoint"] = storage.rstrip("/")
        if logs := os.environ.get(ENV_LOGS_ENDPOINT):
            values["logs_endpoint"] = logs.rstrip("/")
        if ca := os.environ.get(ENV_CA_BUNDLE):
            values["connection_verify"] = ca
        if poll := os.environ.get(ENV_POLL_SECONDS):
            values["polling_interval"] = float(poll)
        if backoff := os.environ.get(ENV_RETRY_BACKOFF):
            values["retry_backoff_factor"] = float(backoff)
        values.update(overrides)
        return cls(**values)

    def credential(self) -> TokenCredential:
        """One credential per connection, created on first use (token caching lives in it)."""
        if not self._credential:
            quiet_sdk_logs()
            factory = self.credential_factory or default_credential
            self._credential.append(factory())
        return self._credential[0]

    def storage_account_url(self, account: str) -> str:
        if self.storage_endpoint is None:
            return f"https://{account}.file.core.windows.net"
        return self.storage_endpoint.format(account=account)

    def arm_client(self, client_class: Callable[..., T], subscription_id: str) -> T:
        """An azure-mgmt-* client for `subscription_id` at this connection's ARM endpoint, with
        its retry, polling and TLS settings."""
        return client_class(
            self.credential(),
            subscription_id,
            base_url=self.arm_endpoint,
            # A test endpoint is not an audience Entra ID knows; the public one is.
            credential_scopes=[f"{ARM_ENDPOINT}/.default"],
            connection_verify=self.connection_verify,
            retry_total=self.retry_total,
            retry_backoff_factor=self.retry_backoff_factor,
            retry_backoff_max=self.retry_backoff_max,
            polling_interval=self.polling_interval,
        )

    def storage_mgmt(self, subscription_id: str) -> StorageManagementClient:
        from azure.mgmt.storage import StorageManagementClient

        return self.arm_client(StorageManagementClient, subscription_id)

    def logs_query(self) -> LogsQueryClient:
        from azure.monitor.query import LogsQueryClient

        return LogsQueryClient(
            self.credential(),
            endpoint=self.logs_endpoint,
            audience=LOGS_ENDPOINT,
            connection_verify=self.connection_verify,
            retry_total=self.retry_total,
            retry_backoff_factor=self.retry_backoff_factor,
            retry_backoff_max=self.retry_backoff_max,
        )

    def share_transport_kwargs(self) -> dict[str, Any]:
        """Transport and retry for the Azure Files data plane: pooled HTTPS, exponential retry."""
        from azure.core.pipeline.transport import RequestsTransport
        from azure.storage.fileshare import ExponentialRetry

        fast = self.retry_backoff_factor < 0.1  # tests: retry at once
        session = _once_per_host_session()()
        # Room for every sync worker plus the ranges of a large file in flight (the SDK's own
        # range uploader): a full pool would drop connections and log a warning per request.
        adapter = _requests().adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=self.max_connections * 2
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return {
            "transport": RequestsTransport(
                session=session, session_owner=True, connection_verify=self.connection_verify
            ),
            "connection_verify": self.connection_verify,
            "retry_policy": ExponentialRetry(
                initial_backoff=0 if fast else 2,
                increment_base=0 if fast else 3,
                retry_total=self.retry_total,
                random_jitter_range=0 if fast else 2,
            ),
        }


def _requests() -> Any:
    import requests

    return requests


def _keep_request(request: Any) -> Any:
    """A session-wide `auth` that adds nothing: the SDK signs each request itself."""
    return request


@functools.cache
def _once_per_host_session() -> type:
    requests = _requests()

    class OncePerHostSession(requests.Session):  # type: ignore[misc, name-defined]
        """A `requests.Session` that reads the environment once per host, not per request.

        With `trust_env`, requests looks up proxies, NO_PROXY and the CA bundle variables
        (`merge_environment_settings`) and `~/.netrc` (`prepare_request`) for every request;
        profiled on a 2,000-file sync that was about a sixth of the client's CPU. The settings
        are the same for every request to one host, so requests' own answer is kept per host.
        `~/.netrc` is not consulted: its Basic credentials would replace the SharedKey
        `Authorization` header the SDK signs, so an entry for the storage host could only break
        requests."""

        def __init__(self) -> None:
            super().__init__()
            self.auth = _keep_request  # set: requests skips its per-request ~/.netrc lookup
            self._settings: dict[tuple[Any, ...], dict[str, Any]] = {}

        def merge_environment_settings(  # type: ignore[no-untyped-def]
            self, url, proxies, stream, verify, cert
        ):
            parts = requests.utils.urlparse(url)
            key = (parts.scheme, parts.netloc, repr(proxies), stream, repr(verify), repr(cert))
            settings = self._settings.get(key)
            if settings is None:
                settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
                self._settings[key] = settings
            return {**settings, "proxies": dict(settings["proxies"])}

    return OncePerHostSession
