"""Run requests: how `ftk run` tells an Azure job execution which run to train.

An execution runs the job's own template (a start override would replace the whole template,
volumes and secrets included), so it cannot be given a run id. Instead a request is keyed by the
execution it is for:
1. `ftk run` / `ftk resume` start an execution with no override, then write
   `REQUESTS_DIR/<that execution's name>.json` (a `RunRequest`) on the share. When the start
   fails nothing is written; when the write fails the execution is stopped.
2. The execution (`python -m training claim`) waits up to `REQUEST_WAIT_SECONDS` for the request
   under its own name (`CONTAINER_APP_JOB_EXECUTION_NAME`) and never reads another's: no two
   executions ever contest one file, so nothing relies on an SMB rename being atomic (the Linux
   cifs client renames by handle: create, then set-info). It records the take with one exclusive
   create (`O_CREAT|O_EXCL`, a single SMB create) of `CLAIMS_DIR/<execution>.json`; a retried
   replica of the same execution finds that record and trains the same run again (it resumes).
   An execution with no request of its own (started from the portal or by hand) says so and
   fails; a request whose execution never started, or was stopped, is never trained by anyone.
3. `ftk ps` / `logs` read `REQUESTS_DIR/<execution>.json` (else the take record) to say which run
   an execution trains; `ftk stop` removes a stopped execution's request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Final

from contract.layout import CLAIMS_DIR, REQUESTS_DIR, valid_run_id

# How long an execution waits for `ftk run` to write its request. The CLI writes it as soon as
# the start call returns with the execution's name; that call is an ARM long-running operation
# the SDK polls (azure-mgmt-appcontainers `begin_start`), and a replica can start before it ends
# when a GPU is free and the image is cached. Five minutes covers a slow poll many times over.
REQUEST_WAIT_SECONDS: Final = 300.0
REQUEST_POLL_SECONDS: Final = 5.0

# ACA names an execution `<job>-<suffix>`: lower-case letters, digits and '-'. The CLI and the
# execution both refuse anything that is not a plain file name, so a name is never a path.
_EXECUTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,250}")


@dataclass(frozen=True)
class RunRequest:
    run_id: str
    env: dict[str, str] = field(default_factory=dict)  # plain (non-secret) extra env only
    requested_at: str = ""
    execution: str = ""  # the execution it is for (empty in requests of earlier versions)

    def to_bytes(self) -> bytes:
        data = {
            "run_id": self.run_id,
            "execution": self.execution,
            "env": self.env,
            "requested_at": self.requested_at,
        }
        return json.dumps(data, indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> RunRequest:
        """Raises ValueError, with one line saying what is wrong, for anything but a request
        (its fields are checked here, at read, so no reader meets a wrong type later)."""
        try:
            found = json.loads(data)
        except (ValueError, RecursionError):
            raise ValueError("not a run request: not JSON") from None
        if not isinstance(found, dict):
            raise ValueError("not a run request: not a JSON object")
        run_id, env = found.get("run_id"), found.get("env") or {}
        requested_at = found.get("requested_at", "")
        execution = found.get("execution", "")
        if not isinstance(run_id, str) or not valid_run_id(run_id):
            raise ValueError("not a run request: `run_id` is not a run id")
        if not isinstance(env, dict):
            raise ValueError("not a run request: `env` is not an object")
        for name, value in env.items():
            if not _ENV_NAME.fullmatch(name) or not isinstance(value, str) or "\0" in value:
                raise ValueError(f"not a run request: `env` entry {name[:40]!r} is not NAME=text")
        if not isinstance(requested_at, str):
            raise ValueError("not a run request: `requested_at` is not text")
        if not isinstance(execution, str):
            raise ValueError("not a run request: `execution` is not text")
        return cls(run_id, dict(env), requested_at, execution)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")  # what a process environment accepts


def check_execution_name(name: str) -> str:
    """`name` if it can name a request file; ValueError otherwise."""
    if not _EXECUTION_NAME.fullmatch(name):
        raise ValueError(f"not an execution name: {name!r}")
    return name


def request_path(execution: str) -> str:
    """Where `ftk run` leaves the request for `execution`."""
    return f"{REQUESTS_DIR}/{check_execution_name(execution)}.json"


def claim_path(execution: str) -> str:
    """Where `execution` records that it took its request."""
    return f"{CLAIMS_DIR}/{check_execution_name(execution)}.json"
