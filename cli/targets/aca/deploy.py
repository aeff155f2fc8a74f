"""Point the inference Container App at an adapter: new env on the template -> new revision,
then wait until that revision is the latest ready one (or fails, or the timeout passes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cli.errors import FtkError, UnavailableError
from cli.targets.azure.errors import azure_call

APP_ROLE = "Container Apps Contributor"
# In single revision mode the old revision is not deactivated until the new one is ready
# (MicrosoftDocs/azure-docs articles/container-apps/application-lifecycle-management.md, "Zero
# downtime deployment", read 2026-12-05), and ready includes "Scaling to match the previous
# revision's replica count" (the ingress overview's "Single revision mode"). So a warm app's new
# revision needs GPUs of its own while the old one still holds its own: `ftk deploy` says so
# first (Capabilities.deploy_overlaps) and `ftk doctor` counts them (Deployment.gpus_at_once).


def with_env(env: list[dict[str, Any]], changes: dict[str, str | None]) -> list[dict[str, Any]]:
    """`env` with each name in `changes` set to its value, or removed when the value is None."""
    kept = [e for e in env if e.get("name") not in changes]
    return kept + [{"name": k, "value": v} for k, v in changes.items() if v is not None]


def update_app_env(
    client: Any, resource_group: str, app: str, changes: dict[str, str | None]
) -> tuple[dict[str, Any], str | None]:
    """PATCH the app's template with new env on every container; returns (app, old revision)."""
    label = f"container app '{app}'"
    with azure_call(label, role=APP_ROLE):
        current = client.container_apps.get(resource_group, app).as_dict()
    props = current.get("properties", {})
    template = props.get("template") or {}
    for container in template.get("containers") or []:
        container["env"] = with_env(container.get("env") or [], changes)
    with azure_call(label, role=APP_ROLE):
        client.container_apps.begin_update(
            resource_group, app, {"properties": {"template": template}}
        ).result()
    return current, props.get("latestReadyRevisionName")


def wait_ready(
    client: Any,
    resource_group: str,
    app: str,
    *,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until the latest revision is ready; FtkError when it fails, UnavailableError on
    timeout. Returns the app's final JSON."""
    label = f"container app '{app}'"
    deadline = clock() + timeout
    while True:
        with azure_call(label, role=APP_ROLE):
            current = client.container_apps.get(resource_group, app).as_dict()
        props = current.get("properties", {})
        latest = props.get("latestRevisionName")
        if latest and latest == props.get("latestReadyRevisionName"):
            return current
        if latest:
            with azure_call(f"revision '{latest}' of {label}", role=APP_ROLE):
                revision = client.container_apps_revisions.get_revision(
                    resource_group, app, latest
                ).as_dict()
            rprops = revision.get("properties", {})
            if rprops.get("provisioningState") == "Failed" or rprops.get("runningState") in (
                "Failed",
                "Degraded",
            ):
                reason = rprops.get("provisioningError") or rprops.get("runningStateDetails")
                raise FtkError(
                    f"revision {latest} of {app} failed to start"
                    + (f": {reason}" if reason else ""),
                    hint="see the app's system logs in the portal; the previous revision "
                    "still serves until this is fixed",
                )
        if clock() >= deadline:
            raise UnavailableError(
                f"revision {latest} of {app} is not ready after {int(timeout)} s",
                hint="large base models take a while to load, and a new revision of a warm app "
                "waits for a free GPU while the old one serves (see `ftk doctor`'s GPU quota); "
                "check again with `ftk endpoint`",
            )
        sleep(interval)
