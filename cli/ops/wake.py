"""Wake an inference endpoint and wait until its ready path answers 200, with short requests.

A scale-to-zero Container App starts a replica on the first request after idling ("the next
incoming request triggers a cold start": MicrosoftDocs/azure-docs
`articles/container-apps/cold-start.md`, ms.date 03/20/2025, commit 0d26047d, read 2026-12-01),
and pulling the image plus loading a model onto a GPU can take longer than the ingress lets one
request live ("Request timeout is 240 seconds": `articles/container-apps/ingress-overview.md`,
"Protocol types > HTTP", ms.date 05/03/2023, commit 0147a273, read 2026-12-01; issue 20's audit
reads it as the environment's request idle timeout, unverified here: docs/azure.md). Either way
no request may sit silent that long, so nothing waits inside one request: each poll is a
short `GET` of the engine's ready path (`Endpoint.ready_path`: `/ready` on ftk's server,
`/health` on vLLM's, which has no `/ready`; contract.engines), and while the replica starts, a
502/503/504 from the ingress (or from our server, loading) or a dropped connection means "still
waking".

The local server uses the same waiter (with a check that its process is still alive).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cli.errors import FtkError, UnavailableError
from contract.engines import ENGINES, FALLBACK

INGRESS_REQUEST_LIMIT_S = 240.0  # ingress-overview.md, see above
POLL_REQUEST_TIMEOUT_S = 20.0  # one readiness poll: far below the ingress limit
DEFAULT_INTERVAL_S = 5.0  # the inference server's own Retry-After
DEFAULT_WAIT_S = 900.0  # 15 min: GPU image pull + model load, with room to spare
# No official page names the ingress's answers while no replica is up; users report 503 "upstream
# connect error" on wake (microsoft/azure-container-apps#295) and dropped connections (#1759).
WAKING_STATUSES = frozenset({502, 503, 504})

# Indirections the tests replace (no sleeping for timing in tests).
_sleep: Callable[[float], None] = time.sleep
_clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class Poll:
    """One unanswered poll: how long we have waited, and what the endpoint said."""

    elapsed: float
    why: str  # e.g. "HTTP 503 (loading)", "HTTP 502", "no connection"


def _poll(url: str, timeout: float, hint: str | None) -> str | None:
    """None when `url` (the ready path) answers 200; otherwise why not (a reason that means
    "still waking")."""
    import httpx

    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.TimeoutException:
        return "no answer yet"
    except httpx.TransportError:
        return "no connection"
    if response.status_code == 200:
        return None
    if response.status_code in WAKING_STATUSES:
        state = _json_field(response, "status")
        if state == "failed":
            error = _json_field(response, "error")
            raise FtkError(
                "the inference server failed to load its model" + (f": {error}" if error else ""),
                hint=hint or "see the app's logs; redeploy with `ftk deploy RUN`",
            )
        return f"HTTP {response.status_code}" + (f" ({state})" if state else "")
    raise FtkError(
        f"{url} answered HTTP {response.status_code}",
        hint="is ftk's inference server behind this URL? see `ftk endpoint`",
    )


def _json_field(response: object, name: str) -> str | None:
    try:
        value = response.json().get(name)  # type: ignore[attr-defined]
    except (ValueError, AttributeError):
        return None
    return str(value) if value else None


def wait_ready(
    url: str,
    *,
    timeout: float = DEFAULT_WAIT_S,
    interval: float = DEFAULT_INTERVAL_S,
    on_poll: Callable[[Poll], None] | None = None,
    check: Callable[[], None] | None = None,
    what: str = "the endpoint",
    hint: str | None = None,
    path: str = ENGINES[FALLBACK].ready_path,
) -> float:
    """Poll `url` + `path` (the engine's ready path) until 200; returns the seconds waited.

    `on_poll` hears each unanswered poll (progress); `check` runs between polls and may raise
    (the local server exited); `hint` replaces the default hint of a timeout or a failed load.
    UnavailableError after `timeout` seconds. Ctrl-C propagates: nothing has been sent but GETs,
    so there is nothing to undo."""
    url = url.rstrip("/") + path
    start = _clock()
    while True:
        why = _poll(url, min(POLL_REQUEST_TIMEOUT_S, max(timeout, 1.0)), hint)
        elapsed = _clock() - start
        if why is None:
            return elapsed
        if check is not None:
            check()
        if elapsed >= timeout:
            raise UnavailableError(
                f"{what} was not ready after {elapsed:.0f} s (last answer: {why})",
                hint=hint
                or "a scaled-to-zero GPU app can take minutes to start: wait longer with "
                "`--wait SECONDS`, or see the app's logs",
            )
        if on_poll is not None:
            on_poll(Poll(elapsed, why))
        _sleep(interval)
