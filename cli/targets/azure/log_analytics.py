"""Lines from a Log Analytics workspace: the workspace a deployment names, one KQL query run on
it through azure-monitor-query, its rows printed as timestamped lines.

What to ask is the target's: `cli.targets.aca.log_history` queries Container Apps' log tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cli.errors import UsageError
from cli.targets.azure.errors import azure_call
from cli.targets.azure.resources import AzureDeployment
from cli.targets.base import LogNotice
from contract import outputs as keys

LOGS_ROLE = "Log Analytics Reader"
DEFAULT_HISTORY = timedelta(days=30)


@dataclass(frozen=True)
class Workspace:
    """The deployment's workspace: by its id (LOG_ANALYTICS_WORKSPACE_ID) or, when only its name
    (LOG_ANALYTICS_NAME) is known, by its ARM resource id."""

    workspace_id: str | None
    resource_id: str | None
    label: str


def workspace_of(deployment: AzureDeployment) -> Workspace:
    config = deployment.config
    workspace_id = config.get(keys.LOG_ANALYTICS_WORKSPACE_ID)
    workspace_name = config.get(keys.LOG_ANALYTICS_NAME)
    resource_id = (
        deployment.resource_id("Microsoft.OperationalInsights/workspaces", workspace_name)
        if workspace_name and not workspace_id
        else None
    )
    label = f"Log Analytics workspace '{workspace_name or workspace_id}'"
    return Workspace(workspace_id, resource_id, label)


def query_lines(
    client: Any,
    query: str,
    *,
    since: timedelta | None,
    workspace: Workspace,
    nothing: str,
) -> Iterator[str]:
    """`query`'s rows (time, text) as `"<time> <text>"` lines; `nothing` is the notice when no
    row comes back. A partial result says so first; SDK errors become `FtkError`s."""
    with azure_call(workspace.label, role=LOGS_ROLE):
        yield from _lines(client, query, since=since, workspace=workspace, nothing=nothing)


def _lines(
    client: Any, query: str, *, since: timedelta | None, workspace: Workspace, nothing: str
) -> Iterator[str]:
    from azure.monitor.query import LogsQueryStatus

    timespan = since or DEFAULT_HISTORY
    if workspace.workspace_id:
        response = client.query_workspace(workspace.workspace_id, query, timespan=timespan)
    elif workspace.resource_id:
        response = client.query_resource(workspace.resource_id, query, timespan=timespan)
    else:
        raise UsageError(
            "the target names no Log Analytics workspace (LOG_ANALYTICS_WORKSPACE_ID or "
            "LOG_ANALYTICS_NAME)",
            hint="add LOG_ANALYTICS_NAME to the --infra config file; live logs work without it",
        )
    if response.status == LogsQueryStatus.PARTIAL:
        tables = response.partial_data
        yield LogNotice(f"partial result from Log Analytics: {response.partial_error}")
    else:
        tables = response.tables
    empty = True
    for table in tables:
        for row in table.rows:
            empty = False
            stamp, text = row[0], row[1]
            when = stamp.strftime("%Y-%m-%d %H:%M:%S") if isinstance(stamp, datetime) else stamp
            yield f"{when} {text}"
    if empty:
        yield LogNotice(nothing)
