"""`--wait SECONDS` and the wake-and-wait step shared by `ftk chat`, `ftk endpoint`, `ftk deploy`:
progress on stderr (a spinner with the elapsed time on a terminal, one line otherwise), bounded,
and Ctrl-C leaves with exit 130 and nothing half-done."""

from __future__ import annotations

from typing import Any

import click

from cli.ops.wake import DEFAULT_WAIT_S
from cli.targets.base import Endpoint, Target


def wait_option() -> Any:
    return click.option(
        "--wait",
        "wait",
        type=click.FloatRange(min=0),
        default=int(DEFAULT_WAIT_S),
        show_default=True,
        metavar="SECONDS",
        help="How long to wait for a scaled-to-zero app to wake and say it is ready "
        "(0: do not wake it).",
    )


def wake(target: Target, endpoint: Endpoint, wait: float, *, interrupted: str) -> Endpoint:
    """`endpoint`, awake and ready: a no-op unless the target's app scales to zero and `wait`>0.

    `interrupted` says what Ctrl-C leaves behind (one sentence for the user)."""
    if wait <= 0 or not target.capabilities.wakes_on_request:
        return endpoint
    from dataclasses import replace

    from cli.commands import _ui
    from cli.errors import ExitCode, FtkError
    from cli.ops.wake import Poll, wait_ready

    console = _ui.console()
    label = f"waking {endpoint.url}"
    status = console.status(label) if console.is_terminal else None
    said: list[bool] = []

    def on_poll(poll: Poll) -> None:
        if status is not None:
            status.update(
                f"{label}: {poll.why}, {poll.elapsed:.0f} s of at most {wait:.0f} s "
                "(a cold start can take minutes; Ctrl-C stops waiting)"
            )
        elif not said:
            said.append(True)
            _ui.info(
                f"waiting for {endpoint.url} to wake ({poll.why}); a scaled-to-zero GPU app "
                f"can take minutes, waiting up to {wait:.0f} s"
            )

    try:
        if status is not None:
            status.start()
        waited = wait_ready(endpoint.url, timeout=wait, on_poll=on_poll, path=endpoint.ready_path)
    except KeyboardInterrupt:
        raise FtkError(
            f"stopped waiting for {endpoint.url}; {interrupted}",
            hint="`ftk endpoint` waits for it again",
            code=ExitCode.INTERRUPTED,
        ) from None
    finally:
        if status is not None:
            status.stop()
    if said or (status is not None and waited >= 1):
        _ui.ok(f"{endpoint.url} is ready (waited {waited:.0f} s)")
    return replace(endpoint, ready=True)
