"""`python -m training claim --workspace DIR`: the Azure job's entry point.

An execution is started with the job's own template and no run id (see `contract.requests`).
`ftk run` writes the run request under this execution's name right after starting it; the
execution waits a bounded time for that request, takes it and trains its run. It never reads a
request written for another execution, so a request left by an execution that died, or was
stopped, before its replica started is trained by nobody. A retried replica of the same
execution takes the same request again, so the run resumes. With no request of its own (an
execution started from the portal) it prints one line and fails. No torch here, and no
training: `take` hands the run (its config and its folder) to `training.cli`, which trains it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from contract import env as ftk_env
from contract.exit_codes import ExitCode
from contract.layout import RunLayout
from contract.requests import (
    REQUEST_POLL_SECONDS,
    REQUEST_WAIT_SECONDS,
    RunRequest,
    check_execution_name,
    claim_path,
    request_path,
)


class NoRequest(Exception):
    """This execution has no usable request of its own."""


def _read(path: Path) -> bytes | None:
    """The file's bytes; None when it is absent or cannot be read now. On SMB a file being
    written, replaced or deleted by another client can fail with any OSError (a sharing
    violation, a stale handle, access denied on a delete-pending file): all mean "not now"."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def _record_take(workspace: Path, execution: str, data: bytes) -> bool:
    """Create CLAIMS_DIR/<execution>.json exclusively (O_CREAT|O_EXCL: one SMB create, which the
    server fails when the name exists). True: this replica is the first to take the request;
    False: an earlier replica of this execution took it (or the file system would not say), and
    this one trains the same run again. Never raises: the record is for people and `ftk ps`,
    and the request is this execution's own whatever the record says."""
    target = workspace / claim_path(execution)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError:
        return False
    try:
        os.write(fd, data)
    except OSError:
        pass
    finally:
        os.close(fd)
    return True


def claim(
    workspace: Path,
    execution: str,
    *,
    wait_s: float = 0.0,
    poll_s: float = REQUEST_POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunRequest | None:
    """This execution's own request (`contract.requests.request_path`), waiting up to `wait_s`
    seconds for `ftk run` to write it; None when none came. Never takes another's request.

    Raises NoRequest when the request is there but not a request (kept for a person to read)."""
    check_execution_name(execution)
    path = workspace / request_path(execution)
    deadline = clock() + wait_s
    while True:
        data = _read(path)
        if data is not None:
            try:
                request = RunRequest.from_bytes(data)
            except ValueError as exc:
                if clock() >= deadline:
                    raise NoRequest(f"{path} is not a run request ({exc})") from None
            else:
                _record_take(workspace, execution, data)
                return request
        elif clock() >= deadline:
            return None
        sleep(max(min(poll_s, deadline - clock()), 0.0))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training claim",
        description="Take the run request `ftk run` left on the share for this execution, "
        "then train that run.",
    )
    parser.add_argument("--workspace", required=True, type=Path, help="the mounted share")
    parser.add_argument(
        "--execution",
        default=os.environ.get(ftk_env.EXECUTION_NAME),
        help=f"this execution's name (default: ${ftk_env.EXECUTION_NAME}, set by Azure)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=REQUEST_WAIT_SECONDS,
        metavar="SECONDS",
        help="how long to wait for this execution's request (default: %(default)s)",
    )
    return parser


@dataclass(frozen=True)
class Taken:
    """The run this execution took: its config and its folder on the share `workspace`."""

    workspace: Path
    run_id: str

    @property
    def config(self) -> Path:
        return self.workspace / RunLayout(self.run_id).config

    @property
    def run_dir(self) -> Path:
        """Where the run trains, whatever its config's `output.dir` says: ftk reads it there."""
        return self.workspace / RunLayout(self.run_id).folder


def take(argv: list[str]) -> Taken | int:
    """Parse `claim`'s arguments and take this execution's request: the run to train (its env
    applied to this process), or the exit code to end with when there is none. Training is the
    caller's (`training.cli`), so nothing here imports what trains."""
    args = _parser().parse_args(argv)
    if not args.execution:
        print(
            f"ftk: {ftk_env.EXECUTION_NAME} is not set: `training claim` runs inside an Azure "
            "Container Apps job execution (or pass --execution NAME)",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    workspace = args.workspace.resolve()
    try:
        request = claim(workspace, args.execution, wait_s=max(args.wait, 0.0))
    except (NoRequest, ValueError) as exc:
        print(f"ftk: execution {args.execution}: {exc}", flush=True)
        return ExitCode.USAGE
    if request is None:
        print(
            f"ftk: execution {args.execution} has no run request of its own on the share "
            f"(waited {args.wait:g} s); nothing to train. Start runs with `ftk run`: an "
            "execution started another way (the portal, `az containerapp job start`) trains "
            "nothing",
            flush=True,
        )
        return ExitCode.USAGE
    print(f"ftk: execution {args.execution} trains run {request.run_id}", flush=True)
    os.environ.update(request.env)
    os.environ[ftk_env.RUN_ID] = request.run_id
    return Taken(workspace, request.run_id)
