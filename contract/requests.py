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

from contract.layout import CLAIMS_DIR, REQUESTS_DIR

# How long an execution waits for `ftk run` to write its request. The CLI writes it as soon as
# the start call returns with the execution's name; that call is an ARM long-running operation
# the SDK polls (azure-mgmt-appcontainers `begin_start`), and a replica can start before it ends
# when a GPU is free and the image is cached. Five minutes covers a slow poll many times over.
REQUEST_WAIT_SECONDS: Final = 300.0
REQUEST_POLL_SECONDS: Final = 5.0

# ACA names an execution `<job>-<suffix>`: lower-case letters, digits and '-'. The CLI and the
# execution both refuse anything that is not a plain file name, so a name is never a path.
_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,250}$")


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
        """Raises ValueError for anything but a request."""
        found = json.loads(data)
        if not isinstance(found, dict) or not isinstance(found.get("run_id"), str):
            raise ValueError("not a run request")
        env = found.get("env") or {}
        if not isinstance(env, dict):
            raise ValueError("a run request's env is not a mapping")
        return cls(
            found["run_id"],
            {str(k): str(v) for k, v in env.items()},
            str(found.get("requested_at") or ""),
            str(found.get("execution") or ""),
        )


def check_execution_name(name: str) -> str:
    """`name` if it can name a request file; ValueError otherwise."""
    if not _EXECUTION_NAME.match(name):
        raise ValueError(f"not an execution name: {name!r}")
    return name


def request_path(execution: str) -> str:
    """Where `ftk run` leaves the request for `execution`."""
    return f"{REQUESTS_DIR}/{check_execution_name(execution)}.json"


def claim_path(execution: str) -> str:
    """Where `execution` records that it took its request."""
    return f"{CLAIMS_DIR}/{check_execution_name(execution)}.json"
