"""The live log stream of a job execution.

The URL `az containerapp job logs show` builds (`job_stream_urls`), authorised with a token from
the job's `getAuthToken`. When the stream drops or the token expires it reconnects by itself,
asking for a tail of recent lines and skipping those already printed (`log_lines.Dedup`), so no
line is printed twice. While the execution has no replica yet it says that it waits for a GPU
replica. History (Log Analytics) is `log_history.py`.

Lines that are ftk's own notes (not container output) are `cli.targets.base.LogNotice`
instances: commands print them to stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from cli.errors import AuthError, UnavailableError, UsageError
from cli.targets.aca.log_lines import Dedup, parse_line
from cli.targets.base import ExecutionStatus, LogNotice

RECONNECT_TAIL = 300  # the largest tail the log stream serves
MAX_TAIL = 300  # `az containerapp job logs show --tail`: "must be between 0 and 300"
MAX_QUIET_FAILURES = 8  # reconnects in a row that bring no new line before giving up
READ_TIMEOUT = 300.0  # a silent stream this long is treated as dropped


class StreamAuthExpired(Exception):
    """The stream answered 401: the token expired."""


class StreamGone(Exception):
    """The stream answered 404: the replica went away."""


class LiveSource(Protocol):
    """What the live follower needs from the target."""

    def execution_status(self, name: str) -> ExecutionStatus: ...

    def log_endpoints(self, name: str) -> list[str]:
        """The log stream URL of each replica container (empty while queued)."""

    def stream_token(self) -> str: ...

    def open_stream(self, url: str, token: str, *, follow: bool, tail: int) -> Iterator[str]:
        """Raw lines of one stream connection; raises StreamAuthExpired / StreamGone /
        ConnectionError-like errors (`StreamDropped`)."""


class StreamDropped(Exception):
    """The connection failed or closed mid-stream."""


def check_tail(tail: int | None) -> None:
    if tail is not None and not 0 <= tail <= MAX_TAIL:
        raise UsageError(f"--tail must be between 0 and {MAX_TAIL}", hint="as in az containerapp")


def job_stream_urls(
    event_stream_endpoint: str | None,
    replicas: list[dict[str, Any]],
    *,
    subscription: str,
    resource_group: str,
    job: str,
    execution: str,
) -> list[str]:
    """The log stream URL of each container of each replica of a job execution.

    As `az containerapp job logs show` builds it (Azure/azure-cli-extensions,
    src/containerapp/azext_containerapp/custom.py `stream_job_logs`, commit 004c93f871b6): the
    host of the job's `eventStreamEndpoint` (everything before `/subscriptions/`) plus
    `/subscriptions/{s}/resourceGroups/{rg}/jobs/{job}/executions/{e}/replicas/{r}/containers/{c}
    /logstream`. A replica container's own `logStreamEndpoint` is used only when the job has no
    `eventStreamEndpoint`. No stable spec describes the stream; see docs/azure.md.
    """
    base = None
    if event_stream_endpoint and "/subscriptions/" in event_stream_endpoint:
        base = event_stream_endpoint[: event_stream_endpoint.index("/subscriptions/")]
    urls = []
    for replica in replicas:
        for container in (replica.get("properties") or {}).get("containers") or []:
            if base is not None:
                urls.append(
                    f"{base}/subscriptions/{subscription}/resourceGroups/{resource_group}"
                    f"/jobs/{job}/executions/{execution}/replicas/{replica.get('name')}"
                    f"/containers/{container.get('name')}/logstream"
                )
            elif container.get("logStreamEndpoint"):
                urls.append(container["logStreamEndpoint"])
    return urls


def live_lines(
    source: LiveSource,
    name: str,
    *,
    follow: bool,
    tail: int | None,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Yield an execution's console lines; with `follow`, until it ends."""
    check_tail(tail)
    dedup = Dedup()
    token: str | None = None
    waiting_said = False
    connected_once = False
    quiet_failures = 0
    while True:
        status = source.execution_status(name)
        endpoints = source.log_endpoints(name) if status == ExecutionStatus.RUNNING else []
        if not endpoints:
            if status.finished:
                if not connected_once:
                    yield LogNotice(
                        f"{name} has ended ({status}); its live log is gone. "
                        f"History: `ftk logs {name} --since 1d`"
                    )
                return
            if not follow:
                yield LogNotice(f"{name} has no replica yet: it is waiting for a GPU replica")
                return
            if not waiting_said:
                yield LogNotice(f"{name} is queued: waiting for a GPU replica (can take minutes)")
                waiting_said = True
            sleep(interval)
            continue
        if token is None:
            token = source.stream_token()
        ask = tail if (tail is not None and not connected_once) else RECONNECT_TAIL
        dedup.new_connection()
        got_new = False
        try:
            for raw in source.open_stream(endpoints[0], token, follow=follow, tail=ask):
                connected_once = True
                record = parse_line(raw)
                if dedup.fresh(record):
                    got_new = True
                    yield record.text
        except StreamAuthExpired:
            token = None
            quiet_failures += 1
            if quiet_failures > MAX_QUIET_FAILURES:
                raise AuthError(
                    "the log stream keeps refusing fresh tokens",
                    hint="check your role on the job (Container Apps Jobs Operator or "
                    "Contributor); history still works: `ftk logs NAME --since 1h`",
                ) from None
            continue
        except (StreamDropped, StreamGone):
            failed = True
        else:
            if not follow:
                return
            failed = False
        connected_once = True
        if got_new:
            quiet_failures = 0
        elif failed:
            quiet_failures += 1
            if quiet_failures > MAX_QUIET_FAILURES:
                raise UnavailableError(
                    f"lost the log stream of {name} and could not get it back",
                    hint=f"the job keeps running; reattach with `ftk logs {name} -f`",
                )
        if not got_new:
            sleep(min(interval * (2 ** min(quiet_failures, 5)), 30.0))


def open_http_stream(
    url: str, token: str, *, follow: bool, tail: int, verify: bool | str
) -> Iterator[str]:
    """One connection to a log stream endpoint, closed when the caller stops reading."""
    import requests

    params = {"follow": "true" if follow else "false", "output": "json", "tailLines": str(tail)}
    try:
        response = requests.get(
            url,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            stream=True,
            timeout=(15.0, READ_TIMEOUT),
            verify=verify,
        )
    except requests.RequestException as exc:
        raise StreamDropped(str(exc)) from exc
    try:
        if response.status_code == 401:
            raise StreamAuthExpired
        if response.status_code == 404:
            raise StreamGone
        if response.status_code >= 400:
            raise StreamDropped(f"HTTP {response.status_code}")
        try:
            yield from _lines_as_they_come(response)
        except (requests.RequestException, OSError) as exc:
            if "timed out" in str(exc).lower():
                return  # a quiet job: reconnecting is enough, it is no failure
            raise StreamDropped(str(exc)) from exc
    finally:
        response.close()


def _lines_as_they_come(response: Any) -> Iterator[str]:
    """Each line as soon as it arrives (`iter_lines` waits for 512 bytes first)."""
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:  # urllib3 < 2.3
        for line in response.iter_lines(chunk_size=1, decode_unicode=True):
            if line:
                yield line
        return
    pending = b""
    while chunk := read1(65536):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if line.strip():
                yield line.decode("utf-8", errors="replace").rstrip("\r")
    if pending.strip():
        yield pending.decode("utf-8", errors="replace").rstrip("\r")
