"""The two Container Apps log tables, as far as ftk reads them, and the only query shapes the
fake Log Analytics evaluates.

Columns: a job's console line has `ContainerGroupName_s` (the replica; its name starts with the
execution name), `Log_s` and `_timestamp_d` (the container's own time, epoch seconds), as the
query in MicrosoftDocs/azure-docs articles/container-apps/jobs-get-started-cli.md uses them,
plus `ContainerJobName_s` and `TimeGenerated` (shared by a whole ingestion batch); a system event
names its execution in `ExecutionName_s` (azureossd.github.io, 2023-10-30). A row with any other
column is a test bug and raises.
"""

from __future__ import annotations

import re
from typing import Any

LOG_COLUMNS = {
    "ContainerAppConsoleLogs_CL": {
        "TimeGenerated",
        "_timestamp_d",
        "ContainerJobName_s",
        "ContainerGroupName_s",
        "Log_s",
    },
    "ContainerAppSystemLogs_CL": {"TimeGenerated", "ExecutionName_s", "Log_s"},
}

_NAME = r"'([A-Za-z0-9._-]+)'"
_CONSOLE = re.compile(
    r"^ContainerAppConsoleLogs_CL \| where ContainerJobName_s == "
    + _NAME
    + r" and ContainerGroupName_s startswith "
    + _NAME
    + r"(?: \| top (\d+) by _timestamp_d desc)?"
    r" \| order by _timestamp_d asc \| project TimeGenerated, Log_s$"
)
_SYSTEM = re.compile(
    r"^ContainerAppSystemLogs_CL \| where ExecutionName_s == "
    + _NAME
    + r"(?: \| top (\d+) by TimeGenerated desc)?"
    r" \| order by TimeGenerated asc \| project TimeGenerated, Log_s$"
)


def _check_columns(table: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        extra = set(row) - LOG_COLUMNS[table]
        if extra:
            raise AssertionError(f"{table} has no column {sorted(extra)} (see LOG_COLUMNS)")


def evaluate_query(query: str, tables: dict[str, list[dict[str, Any]]]) -> list[dict] | str:
    """The rows `query` selects, in order; a string (the reason) when it is not a known shape."""
    for table, rows in tables.items():
        _check_columns(table, rows)
    if match := _CONSOLE.match(query):
        job, execution, top = match.groups()
        key = "_timestamp_d"
        rows = [
            r
            for r in tables["ContainerAppConsoleLogs_CL"]
            if r["ContainerJobName_s"] == job and r["ContainerGroupName_s"].startswith(execution)
        ]
    elif match := _SYSTEM.match(query):
        execution, top = match.groups()
        key = "TimeGenerated"
        rows = [r for r in tables["ContainerAppSystemLogs_CL"] if r["ExecutionName_s"] == execution]
    else:
        return f"the fake evaluates only ftk's two query shapes, not: {query}"
    rows = sorted(rows, key=lambda r: r[key])
    if top:
        rows = rows[-int(top) :]
    return rows
