"""An execution's logs: live from the job's log stream, history from Log Analytics.

This module feeds the live stream (`logs.py`, its lines `log_lines.py`) from ARM (replicas,
auth token) and the history (`log_history.py`) from the deployment's Log Analytics workspace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from cli.errors import NotFoundError
from cli.targets.aca.resources import JOB_ROLE, Deployment
from cli.targets.azure.errors import azure_call
from cli.targets.base import ExecutionStatus

# Job replicas and getAuthToken have no typed operation in azure-mgmt-appcontainers 5.1, and no
# stable spec has these routes. `az containerapp job logs show` calls them with the api-version it
# pins for exactly these two calls:
# Azure/azure-cli-extensions src/containerapp/azext_containerapp/_clients.py,
# `ContainerAppsJobPreviewClient.LOG_STREAM_API_VERSION = "2023-11-02-preview"`, which az pins for
# exactly these two calls (`get_replicas`, `get_auth_token`) while the class's other calls use
# PREVIEW_API_VERSION (2025-02-02-preview in the copy read 2026-12-05).
STREAM_API_VERSION = "2023-11-02-preview"


class JobLogs:
    def __init__(self, deployment: Deployment, status: Callable[[str], ExecutionStatus]):
        self.deployment = deployment
        self._status = status

    def stream(self, name: str, *, follow: bool, tail: int | None = None) -> Iterator[str]:
        from cli.targets.aca.logs import live_lines

        return live_lines(
            _LiveSource(self.deployment, self._status),
            name,
            follow=follow,
            tail=tail,
            interval=max(self.deployment.connection.polling_interval, 0.0),
        )

    def query(
        self, name: str, *, since: timedelta | None, system: bool, tail: int | None = None
    ) -> Iterator[str]:
        from cli.targets.aca.log_history import history_lines
        from cli.targets.azure.log_analytics import workspace_of

        d = self.deployment
        workspace = workspace_of(d)
        yield from history_lines(
            d.connection.logs_query(),
            execution=name,
            job=d.job_name,
            since=since,
            system=system,
            tail=tail,
            workspace=workspace,
        )


class _LiveSource:
    """What `live_lines` needs, over ARM (replicas, auth token) and the stream endpoint."""

    def __init__(self, deployment: Deployment, status: Callable[[str], ExecutionStatus]):
        self.deployment = deployment
        self.execution_status = status
        self._event_stream: str | None = None  # the job's eventStreamEndpoint, read once

    def _send(self, method: str, path: str, what: str) -> dict[str, Any]:
        from azure.core.rest import HttpRequest

        d = self.deployment
        job = d.resource_id("Microsoft.App/jobs", d.job_name)
        url = f"{d.connection.arm_endpoint}{job}{path}?api-version={STREAM_API_VERSION}"
        with azure_call(what, role=JOB_ROLE):
            response = d.apps.send_request(HttpRequest(method, url))
            if response.status_code >= 400:
                from azure.core.exceptions import (
                    ClientAuthenticationError,
                    HttpResponseError,
                    ResourceNotFoundError,
                )

                error = {404: ResourceNotFoundError, 401: ClientAuthenticationError}.get(
                    response.status_code, HttpResponseError
                )
                raise error(response=response)
            return response.json() if response.content else {}

    def log_endpoints(self, name: str) -> list[str]:
        from cli.targets.aca.logs import job_stream_urls

        d = self.deployment
        data = self._send("GET", f"/executions/{name}/replicas", f"replicas of execution '{name}'")
        if self._event_stream is None:
            with azure_call(f"job '{d.job_name}'", role=JOB_ROLE):
                job = d.apps.jobs.get(d.resource_group, d.job_name).as_dict()
            self._event_stream = (job.get("properties") or {}).get("eventStreamEndpoint") or ""
        return job_stream_urls(
            self._event_stream,
            data.get("value") or [],
            subscription=d.subscription,
            resource_group=d.resource_group,
            job=d.job_name,
            execution=name,
        )

    def stream_token(self) -> str:
        what = f"log stream token of job '{self.deployment.job_name}'"
        data = self._send("POST", "/getAuthToken", what)
        token = (data.get("properties") or {}).get("token")
        if not token:
            raise NotFoundError("the job returned no log stream token")
        return str(token)

    def open_stream(self, url: str, token: str, *, follow: bool, tail: int) -> Iterator[str]:
        from cli.targets.aca.logs import open_http_stream

        verify = self.deployment.connection.connection_verify
        return open_http_stream(url, token, follow=follow, tail=tail, verify=verify)
