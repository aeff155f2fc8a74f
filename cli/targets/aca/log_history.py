"""An execution's log history from Log Analytics: the KQL ftk sends to Container Apps' log tables.

Running it is Azure-generic (`cli.targets.azure.log_analytics`). Ingestion lags the live stream
by minutes; the live stream is in `logs.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from cli.errors import UsageError
from cli.targets.azure.log_analytics import Workspace, query_lines

CONSOLE_TABLE = "ContainerAppConsoleLogs_CL"
SYSTEM_TABLE = "ContainerAppSystemLogs_CL"


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
    workspace: Workspace,
) -> Iterator[str]:
    """Timestamped lines from Log Analytics (ingestion lags the live stream by minutes)."""
    query = history_query(execution, job=job, system=system, tail=tail)
    nothing = (
        f"no {'system' if system else 'console'} log lines for {execution} in that time "
        "(Log Analytics ingests with a few minutes of delay)"
    )
    yield from query_lines(client, query, since=since, workspace=workspace, nothing=nothing)
