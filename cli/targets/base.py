"""The `Target` and `Share` protocols that every verb works through.

`LocalTarget` and `AzureTarget` implement them; tests use small fakes of the same protocols.
What a verb asks of the platform behind a target (its doctor rows, what an execution costs, how
many GPUs are free) is part of the protocol too, so no caller asks which platform it holds;
`NoPlatform` gives a target with no platform behind it the "not applicable" answers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from cli.targets.checks import Row
from contract.engines import ENGINES, FALLBACK


class ExecutionStatus(StrEnum):
    QUEUED = "queued"  # accepted, waiting for a (GPU) replica
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    RESUMABLE = "resumable"  # ended on its time budget with a checkpoint: `ftk resume` continues
    UNKNOWN = "unknown"

    @property
    def finished(self) -> bool:
        return self not in (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)


@dataclass(frozen=True)
class Execution:
    name: str
    run_id: str | None
    status: ExecutionStatus
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_code: int | None = None
    portal_url: str | None = None
    notes: tuple[str, ...] = ()  # what starting it changed that the user should know


class LogNotice(str):
    """A status line from ftk itself (waiting, ended, no history), not the execution's output.

    Targets yield these among log lines; commands print them to stderr so stdout holds only the
    execution's own lines.
    """


@dataclass(frozen=True)
class RemoteFile:
    path: str  # posix, relative to the share root
    size: int


@runtime_checkable
class Share(Protocol):
    """The file share the job and the app mount. Paths are posix and relative to its root."""

    parallelism: int
    """How many requests are worth running at once (high for a remote share with per-request
    latency); the sync engine sizes its worker pool with it."""

    local_root: Path | None
    """The share's folder on this machine when it lives here (the local target), else None."""

    def list_files(self, prefix: str = "") -> Iterator[RemoteFile]: ...

    def read_bytes(self, path: str) -> bytes:
        """The file's content; `NotFoundError` when there is none (on every share)."""

    def exists(self, path: str) -> bool: ...

    def make_dirs(self, path: str) -> None:
        """Create a directory and its parents; existing ones are fine."""

    def upload_file(self, local: Path, path: str) -> None:
        """Upload atomically: write under a temporary name, then rename into place. A share may
        write a new file in place in a folder it created itself (nothing there to replace;
        Azure Files does so for files that fit in one request)."""

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write atomically (temporary name, then rename)."""

    def download_file(self, path: str, local: Path) -> None: ...

    def delete(self, path: str) -> None: ...

    def sweep_temporaries(self, directory: str, older_than: float) -> list[str]:
        """Delete the temporaries (`cli.targets.temps`) in `directory` not written for `older_than`
        seconds, left by an interrupted upload; returns their paths."""


@dataclass(frozen=True)
class Endpoint:
    url: str  # base URL, e.g. https://app.example.net (the OpenAI API lives at <url>/v1)
    api_key: str | None = field(default=None, repr=False)
    ready: bool | None = None
    model: str | None = None  # the `model` name `ftk chat` sends by default (adapter or base)
    adapters: tuple[str, ...] = ()  # every run served, each its own model name (`ftk chat --model`)
    no_key_reason: str | None = None  # with no api_key: where it was looked for, and why not found
    # What answers 200 without a key once the endpoint can serve: its engine's
    # (contract.engines.ServingEngine.ready_path); `ftk chat`/`endpoint`/`deploy` poll it to wake.
    ready_path: str = ENGINES[FALLBACK].ready_path


@dataclass(frozen=True)
class Capabilities:
    """What a target can do beyond the common verbs. Commands check these, never `kind`."""

    log_history: bool = False  # query_logs(): `ftk logs --since/--system`
    stop_endpoint: bool = False  # stop_endpoint(): `ftk endpoint --stop`
    # The endpoint scales to zero and a request wakes it: chat/endpoint/deploy poll its
    # `Endpoint.ready_path` first.
    wakes_on_request: bool = False
    # deploy() starts the new version while the old one still serves (ACA single revision mode):
    # a warm endpoint briefly needs one more GPU, which `ftk deploy` says before it starts.
    deploy_overlaps: bool = False


@dataclass(frozen=True)
class Pricing:
    """What one execution costs per second on a target, and where the figure comes from."""

    per_second: float | None = None  # one replica; None: not known, 0.0: free
    currency: str = "USD"
    as_of: date | None = None  # the day the price list was read (None: no price list)
    source: str | None = None  # the price list, in words ("... (estimates)")
    formula: str | None = None  # what is billed, in words ("GPU + vCPU + memory seconds ...")
    url: str | None = None  # where to read the prices

    def cost(self, seconds: float | None) -> float | None:
        """What an execution of `seconds` costs; None when either is unknown."""
        if self.per_second is None or seconds is None:
            return None
        return round(self.per_second * max(seconds, 0.0), 4)

    @property
    def basis(self) -> str:
        """Where an estimate comes from, in words, for a doctor row."""
        if self.as_of is not None:
            return f"list price as of {self.as_of}; an estimate"
        return "free" if self.per_second == 0 else "no price list"


@dataclass(frozen=True)
class GpuRoom:
    """GPUs free now for the target's executions, from the platform's quota."""

    free: int  # GPUs not in use now (limit - current), at least 0
    evidence: str  # the quota's name, where it was read, current and limit
    more: str | None = None  # where to ask for more (a URL)


@dataclass
class PlatformChecks:
    """What `ftk doctor` learns from a target's platform before the run-config checks."""

    target: str  # what was examined, in words: the report's title
    rows: list[Row] = field(default_factory=list)
    gpu_profile: str | None = None  # where a run would train ("local": this machine)
    timeout: int | None = None  # an execution's time budget in seconds (None: unknown)
    secrets: tuple[str, ...] | None = None  # job secret names (None: ask `secrets.names()`)
    pricing: Pricing = field(default_factory=Pricing)  # of `gpu_profile`


class NoPlatform:
    """The platform members of `Target` for a target with no platform behind it: no checks, no
    price, no quota. A target inherits these and overrides what applies to it."""

    kind: str

    def checks(self) -> PlatformChecks:
        return PlatformChecks(target=self.kind)

    def pricing(self) -> Pricing:
        return Pricing()

    def gpu_room(self) -> GpuRoom | None:
        return None


@runtime_checkable
class SecretStore(Protocol):
    """Job secrets by env var name (the `contract.secrets` rule is checked by the caller)."""

    @property
    def stores_values(self) -> bool:
        """False: names only (local; the values come from the user's shell)."""

    @property
    def can_apply(self) -> bool:
        """`--apply` works (a Pulumi stack: also run `pulumi up`)."""

    def names(self) -> list[str]: ...

    def set(self, name: str, value: str, *, apply: bool = False) -> str:
        """Store a job secret; returns a sentence saying what happened / what to run next."""

    def remove(self, name: str, *, apply: bool = False) -> str: ...

    def unavailable(self) -> list[str]:
        """Recorded names the next execution will not see (local: unset in this shell)."""


@runtime_checkable
class Target(Protocol):
    """Everything a verb needs from where it acts."""

    kind: str  # 'local' | 'stack' | 'infra': for display only, never compared by callers
    capabilities: Capabilities

    @property
    def secrets(self) -> SecretStore:
        """Read-only, so a target may hold its own kind of store (a plain attribute is fine)."""

    def describe(self) -> Mapping[str, str]:
        """Resolved contract keys (contract.outputs), never a secret."""

    def share(self) -> Share: ...

    def start_execution(self, run_id: str, env: Mapping[str, str] | None = None) -> Execution:
        """Start one execution of the fine-tuning job for `run_id`."""

    def executions(self) -> list[Execution]:
        """Newest first."""

    def get_execution(self, name: str) -> Execution: ...

    def stop_execution(self, name: str) -> None: ...

    def stream_logs(self, name: str, *, follow: bool, tail: int | None = None) -> Iterator[str]:
        """Console lines of an execution; with `follow`, until it ends (reconnecting as needed).

        Status lines of ftk's own (waiting for a replica, ended) are `LogNotice` instances; the
        target, not the caller, says that a queued execution waits for a replica."""

    def query_logs(
        self, name: str, *, since: timedelta | None, system: bool, tail: int | None = None
    ) -> Iterator[str]:
        """Timestamped history: console output, or platform events (`system`). Only called when
        `capabilities.log_history`."""

    def deploy(
        self, run_id: str | None, *, base_model: str | None, more_runs: Sequence[str] = ()
    ) -> Endpoint:
        """Point the inference app at a run's adapter (or the base only) and wait until ready;
        `more_runs` are served beside it on the same replica, each under its run id."""

    def endpoint(self) -> Endpoint: ...

    def stop_endpoint(self) -> bool:
        """Stop the endpoint; False if nothing was running. Only if `capabilities.stop_endpoint`."""

    def close(self) -> None:
        """Release clients and reap own children; idempotent. The CLI's App calls it when the
        command ends."""

    # -- the platform behind the target (`NoPlatform`: not applicable) --------------------------

    def checks(self) -> PlatformChecks:
        """`ftk doctor`'s rows for the platform (credentials, region, quota, names, ...), and
        where a run would train; never raises for what the platform answers."""

    def pricing(self) -> Pricing:
        """What one execution of the target's job costs per second (`ftk ps`, `ftk run`'s
        estimate and `--max-cost`)."""

    def gpu_room(self) -> GpuRoom | None:
        """GPUs free now for executions (`ftk sweep --parallel` is capped at it); None where
        that is not known: the caller then never invents a cap."""
