"""`python -m training claim --workspace DIR`: the Azure job's entry point.

An execution is started with the job's own template and no run id (see `contract.requests`). It
takes one pending run request from the share (mounted at DIR) and trains that run; a request it
already holds (a retried replica of the same execution) is taken again, so the run resumes. With
nothing to claim it prints one line and exits 0. No torch here: training is imported only once a
run is claimed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from contract import env as ftk_env
from contract.exit_codes import TrainingExit
from contract.layout import CLAIMS_DIR, REQUESTS_DIR, RunLayout
from contract.requests import RunRequest


def claim(workspace: Path, execution: str) -> RunRequest | None:
    """The request this execution holds, else the oldest pending one it wins, else None."""
    claims = workspace / CLAIMS_DIR
    claims.mkdir(parents=True, exist_ok=True)
    mine = claims / f"{execution}.json"
    if mine.is_file():
        return RunRequest.from_bytes(mine.read_bytes())
    requests = workspace / REQUESTS_DIR
    pending = sorted(requests.glob("*.json")) if requests.is_dir() else []
    for request in pending:
        try:
            # Atomic on one file system (POSIX rename; SMB rename on Azure Files): of two
            # executions racing for this request one succeeds, the other finds it gone.
            os.rename(request, mine)
        except FileNotFoundError:
            continue
        try:
            return RunRequest.from_bytes(mine.read_bytes())
        except ValueError:
            mine.rename(mine.with_suffix(".invalid"))  # keep it for a person to look at
            continue
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training claim",
        description="Claim one run request left by `ftk run` on the share, then train that run.",
    )
    parser.add_argument("--workspace", required=True, type=Path, help="the mounted share")
    parser.add_argument(
        "--execution",
        default=os.environ.get(ftk_env.EXECUTION_NAME),
        help=f"this execution's name (default: ${ftk_env.EXECUTION_NAME}, set by Azure)",
    )
    return parser


def main(argv: list[str], started_at: float | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.execution:
        print(
            f"ftk: {ftk_env.EXECUTION_NAME} is not set: `training claim` runs inside an Azure "
            "Container Apps job execution (or pass --execution NAME)",
            file=sys.stderr,
        )
        return TrainingExit.USER_ERROR
    workspace = args.workspace.resolve()
    request = claim(workspace, args.execution)
    if request is None:
        print(
            f"ftk: execution {args.execution} found no pending run request on the share; "
            "nothing to train (start runs with `ftk run`)",
            flush=True,
        )
        return TrainingExit.OK
    print(f"ftk: execution {args.execution} trains run {request.run_id}", flush=True)
    os.environ.update(request.env)
    os.environ[ftk_env.RUN_ID] = request.run_id
    from training.cli import run

    config = workspace / RunLayout(request.run_id).config
    return run(["--config", str(config), "--workspace", str(workspace)], started_at=started_at)
