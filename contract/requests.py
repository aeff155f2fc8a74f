"""Run requests: how `ftk run` tells an Azure job execution which run to train.

An execution runs the job's own template (a start override would replace the whole template,
volumes and secrets included), so it cannot be given a run id. Instead:
1. `ftk run` / `ftk resume` write `REQUESTS_DIR/<request id>.json` (a `RunRequest`) on the share,
   then start an execution with no override;
2. the execution (`python -m training claim`) renames the oldest pending request to
   `CLAIMS_DIR/<its execution name>.json` (atomic: of two executions racing for one request,
   one rename succeeds and the other finds the file gone and tries the next) and trains that run;
3. `ftk ps` / `logs` read `CLAIMS_DIR/<execution>.json` to say which run an execution trains.
Request ids sort by creation time, so executions take requests oldest first.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from contract.layout import CLAIMS_DIR, REQUESTS_DIR, valid_run_id


@dataclass(frozen=True)
class RunRequest:
    run_id: str
    env: dict[str, str] = field(default_factory=dict)  # plain (non-secret) extra env only
    requested_at: str = ""

    def to_bytes(self) -> bytes:
        data = {"run_id": self.run_id, "env": self.env, "requested_at": self.requested_at}
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
        if not isinstance(run_id, str) or not valid_run_id(run_id):
            raise ValueError("not a run request: `run_id` is not a run id")
        if not isinstance(env, dict):
            raise ValueError("not a run request: `env` is not an object")
        for name, value in env.items():
            if not _ENV_NAME.fullmatch(name) or not isinstance(value, str) or "\0" in value:
                raise ValueError(f"not a run request: `env` entry {name[:40]!r} is not NAME=text")
        if not isinstance(requested_at, str):
            raise ValueError("not a run request: `requested_at` is not text")
        return cls(run_id, dict(env), requested_at)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")  # what a process environment accepts


def new_request_id(now: datetime | None = None) -> str:
    """Sorts by creation time (microseconds), unique by a random suffix."""
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


def request_path(request_id: str) -> str:
    return f"{REQUESTS_DIR}/{request_id}.json"


def claim_path(execution: str) -> str:
    return f"{CLAIMS_DIR}/{execution}.json"
