"""An execution's log history from Log Analytics: the KQL ftk sends and the lines it prints.

Ingestion lags the live stream by minutes; the live stream is in `logs.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from cli.errors import UsageError
from cli.targets.base import LogNotice

CONSOLE_TABLE = "ContainerAppConsoleLogs_CL"
SYSTEM_TABLE = "ContainerAppSystemLogs_CL"
DEFAULT_HISTORY = timedelta(days=30)


def _kql_name(value: str, what: str) -> str:
    if not value or not all(c.isalnum() or c in "-_." for c in value):
        raise UsageError(f"invalid {what} {value!r}")
    return value


def history_query(execution: str, *, job: str, system: bool, tail: int | None) -> str:
    """The KQL for one execution's history, on the documented columns.

    Console: MicrosoftDocs/azure-docs articles/container-apps/jobs-get-started-cli.md ("Query job
    execution logs", ms.date 2023-08-17) reads a job execution's lines as
    `ContainerAppConsoleLogs_CL | where ContainerGroupName_s startswith '<execution>' | order by
    _timestamp_d asc`: the replica's name starts with the execution's, and `_timestamp_d` (the
    container's own time) keeps the lines of one ingestion batch, which share `TimeGenerated`,
    in order. `ContainerJobName_s == job` keeps other jobs' replicas out. System events
    (ContainerAppSystemLogs_CL) name the execution in `ExecutionName_s` (shown for job
    executions by Microsoft's App Service support blog, azureossd.github.io, 2023-10-30).
    """
    execution = _kql_name(execution, "execution name")
    job = _kql_name(job, "job name")
    if system:
        where = f"{SYSTEM_TABLE} | where ExecutionName_s == '{execution}'"
        key = "TimeGenerated"
    else:
        where = (
            f"{CONSOLE_TABLE} | where ContainerJobName_s == '{job}' "
            f"and ContainerGroupName_s startswith '{execution}'"
        )
        key = "_timestamp_d"
    top = f" | top {int(tail)} by {key} desc" if tail else ""
    return f"{where}{top} | order by {key} asc | project TimeGenerated, Log_s"


def history_lines(
    client: Any,
    *,
    execution: str,
    job: str,
    since: timedelta | None,
    system: bool,
    tail: int | None,
    workspace_id: str | None,
    workspace_resource_id: str | None,
) -> Iterator[str]:
    """Timestamped lines from Log Analytics (ingestion lags the live stream by minutes)."""
    from azure.monitor.query import LogsQueryStatus

    query = history_query(execution, job=job, system=system, tail=tail)
    timespan = since or DEFAULT_HISTORY
    if workspace_id:
        response = client.query_workspace(workspace_id, query, timespan=timespan)
    elif workspace_resource_id:
        response = client.query_resource(workspace_resource_id, query, timespan=timespan)
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
        yield LogNotice(
            f"no {'system' if system else 'console'} log lines for {execution} in that time "
            "(Log Analytics ingests with a few minutes of delay)"
        )
