"""Data-parallel training on the GPUs of one replica: one process per GPU through `torchrun`.

`python -m training --config X` with `FTK_GPU_PROCESSES=N` (N > 1, the stack sets it from the
GPU profile) re-launches itself as `python -m torch.distributed.run --standalone
--nproc-per-node N -m training --config X`; the launcher holds the run's lock, forwards SIGTERM,
and reports the run's outcome from its status file (torchrun reports a worker's exit 75 as a plain
failure). Inside, torchrun's RANK / LOCAL_RANK / WORLD_SIZE say who is who; only rank 0 writes the
run's files (adapter, metrics, status, summary, checkpoint markers). No torch import at module
level: the launcher needs none.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from contract import env as ftk_env
from contract.exit_codes import ExitCode

log = logging.getLogger("training")


@dataclass(frozen=True)
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def world() -> World:
    """This process's place among torchrun's workers (a lone process: rank 0 of 1)."""
    env = os.environ
    if "WORLD_SIZE" not in env:
        return World()
    return World(int(env.get("RANK", 0)), int(env.get("LOCAL_RANK", 0)), int(env["WORLD_SIZE"]))


def processes_wanted() -> int:
    """FTK_GPU_PROCESSES, capped by the GPUs this machine has (CPU: as asked, for tests)."""
    try:
        wanted = int(os.environ.get(ftk_env.GPU_PROCESSES) or 1)
    except ValueError:
        log.warning("%s is not a number; training in one process", ftk_env.GPU_PROCESSES)
        return 1
    if wanted <= 1 or world().distributed:
        return 1
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() < wanted:
        log.warning(
            "%s=%d but this replica has %d GPU(s): one process per GPU",
            ftk_env.GPU_PROCESSES,
            wanted,
            torch.cuda.device_count(),
        )
        return max(torch.cuda.device_count(), 1)
    return wanted


def launch_argv(processes: int, train_args: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
        "-m",
        "training",
        *train_args,
    ]


def launch(processes: int, train_args: list[str], status_file: Path) -> int:
    """Run the workers; the exit code comes from the status word rank 0 wrote."""
    log.info("data parallel: %d processes (torchrun)", processes)
    env = {**os.environ, ftk_env.GPU_PROCESSES: "1"}  # workers never launch again
    # The workers get what is left of the budget (`--deadline`), counted from their own start:
    # not again from the container's (training.clock).
    env.pop(ftk_env.CONTAINER_STARTED_AT, None)
    proc = subprocess.Popen(launch_argv(processes, train_args), env=env)

    def forward(signum, frame):
        proc.send_signal(signum)  # torchrun passes it to every worker

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        code = proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    status = status_file.read_text().strip() if status_file.is_file() else ""
    if status == "succeeded" and code == 0:
        return ExitCode.OK
    if status == "resumable":
        return ExitCode.RESUMABLE
    if code == ExitCode.USAGE:
        return ExitCode.USAGE
    return ExitCode.FAILED if code != 0 or status != "succeeded" else ExitCode.OK


def agree(flag: bool, device) -> bool:
    """True on every rank when it is True on any (a stop decided by one rank's clock or signal)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return flag
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
