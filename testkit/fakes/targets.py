"""Hand-written fakes of the `Target` and `Share` protocols, for CliRunner tests of commands."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli.errors import NotFoundError
from cli.targets.base import (
    Capabilities,
    Endpoint,
    Execution,
    ExecutionStatus,
    GpuRoom,
    LogNotice,
    PlatformChecks,
    Pricing,
    RemoteFile,
)

_RUN_STATUS = {
    ExecutionStatus.SUCCEEDED: "succeeded",
    ExecutionStatus.RESUMABLE: "resumable",
    ExecutionStatus.FAILED: "failed",
}


class MemoryShare:
    """A share in a dict; `fail_after=n` makes the n-th upload raise, like a dropped link."""

    parallelism = 8
    local_root: Path | None = None

    def __init__(self, fail_after: int | None = None):
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = set()
        self.writes: list[str] = []  # every path written, in order (uploads and write_bytes)
        self.fail_after = fail_after
        self.uploads = 0

    def list_files(self, prefix: str = "") -> Iterator[RemoteFile]:
        for path in sorted(self.files):
            if path.startswith(prefix):
                yield RemoteFile(path, len(self.files[path]))

    def read_bytes(self, path: str) -> bytes:
        if path not in self.files:
            raise NotFoundError(f"no such file on the share: {path}")
        return self.files[path]

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.dirs

    def make_dirs(self, path: str) -> None:
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            self.dirs.add("/".join(parts[:i]))

    def upload_file(self, local: Path, path: str) -> None:
        self.uploads += 1
        if self.fail_after is not None and self.uploads >= self.fail_after:
            raise ConnectionError("connection reset by peer")
        self.files[path] = local.read_bytes()
        self.writes.append(path)

    def write_bytes(self, path: str, data: bytes) -> None:
        self.files[path] = bytes(data)
        self.writes.append(path)

    def download_file(self, path: str, local: Path) -> None:
        local.write_bytes(self.read_bytes(path))

    def delete(self, path: str) -> None:
        self.files.pop(path, None)

    def sweep_temporaries(self, directory: str, older_than: float) -> list[str]:
        return []  # writes here are atomic: no temporary is ever left


class FakeSecretStore:
    """A `SecretStore` in a dict; `can_apply` plays a Pulumi stack's `--apply`."""

    stores_values = True

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.can_apply = False
        self.applied: list[str] = []

    def names(self) -> list[str]:
        return sorted(self.values)

    def set(self, name: str, value: str, *, apply: bool = False) -> str:
        self.values[name] = value
        if apply:
            self.applied.append(name)
        return f"{name} stored" + (" and applied" if apply else "")

    def remove(self, name: str, *, apply: bool = False) -> str:
        if name not in self.values:
            raise NotFoundError(f"no secret named {name}")
        del self.values[name]
        return f"{name} removed"

    def unavailable(self) -> list[str]:
        return []


class FakeTarget:
    """Implements only the `Target` protocol; records what commands asked of it."""

    kind = "fake"
    capabilities = Capabilities()

    def __init__(
        self, share: MemoryShare | None = None, gpu_profile: str = "Consumption-GPU-NC8as-T4"
    ):
        self._share = share or MemoryShare()
        self.gpu_profile = gpu_profile
        self.started: list[tuple[str, Mapping[str, str] | None]] = []
        self.stopped: list[str] = []
        self.secrets = FakeSecretStore()
        self.closed = 0
        self.deployed: list[tuple[str | None, str | None]] = []
        self.deployed_more: list[tuple[str, ...]] = []  # the runs served beside `deployed`'s
        self.logs: dict[str, list[str]] = {}
        self._executions: list[Execution] = []
        self.final_status = ExecutionStatus.SUCCEEDED  # what a followed execution ends as
        self.ep = Endpoint("http://127.0.0.1:9", api_key="k-secret", ready=True, model="m")
        self.room: GpuRoom | None = None  # what gpu_room() says (None: not known)

    def add_execution(self, name: str, run_id: str, status: ExecutionStatus, minutes: float = 10):
        start = datetime(2026, 1, 1, tzinfo=UTC)
        end = None if not status.finished else start + timedelta(minutes=minutes)
        self._executions.insert(0, Execution(name, run_id, status, start, end, exit_code=None))

    def describe(self) -> Mapping[str, str]:
        return {"FILE_SHARE_NAME": "share", "GPU_PROFILE": self.gpu_profile}

    def share(self) -> MemoryShare:
        return self._share

    def start_execution(self, run_id: str, env: Mapping[str, str] | None = None) -> Execution:
        self.started.append((run_id, env))
        name = f"job-{len(self.started)}"
        e = Execution(name, run_id, ExecutionStatus.RUNNING, datetime.now(UTC))
        self._executions.insert(0, e)
        self.logs[e.name] = [f"training {run_id}", "step 1 loss 2.0"]
        return e

    def executions(self) -> list[Execution]:
        return list(self._executions)

    def get_execution(self, name: str) -> Execution:
        for e in self._executions:
            if e.name == name:
                return e
        raise NotFoundError(f"no execution named {name}", hint="see `ftk ps`")

    def stop_execution(self, name: str) -> None:
        e = self.get_execution(name)
        self.stopped.append(name)
        if not e.status.finished:
            self._executions[self._executions.index(e)] = replace(e, status=ExecutionStatus.STOPPED)

    def stream_logs(self, name: str, *, follow: bool, tail: int | None = None) -> Iterator[str]:
        e = self.get_execution(name)
        if e.status == ExecutionStatus.QUEUED:
            yield LogNotice(f"{name} is queued: waiting for a GPU replica")
        lines = self.logs.get(name, [])
        yield from lines[-tail:] if tail else lines
        if follow:
            i = self._executions.index(e)
            self._executions[i] = replace(e, status=self.final_status, exit_code=0)
            word = _RUN_STATUS.get(self.final_status)
            if word and e.run_id:  # what training writes into the run's folder as it ends
                self._share.write_bytes(f"runs/{e.run_id}/status", f"{word}\n".encode())

    def deploy(
        self, run_id: str | None, *, base_model: str | None, more_runs: Sequence[str] = ()
    ) -> Endpoint:
        self.deployed.append((run_id, base_model))
        self.deployed_more.append(tuple(more_runs))
        adapters = (run_id, *more_runs) if run_id else ()
        self.ep = replace(self.ep, model=run_id or base_model, adapters=adapters)
        return self.ep

    def endpoint(self) -> Endpoint:
        return self.ep

    def query_logs(
        self, name: str, *, since: timedelta | None, system: bool, tail: int | None = None
    ) -> Iterator[str]:
        raise AssertionError("query_logs called although capabilities.log_history is False")

    def stop_endpoint(self) -> bool:
        raise AssertionError("stop_endpoint called although capabilities.stop_endpoint is False")

    def close(self) -> None:
        self.closed += 1

    def checks(self) -> PlatformChecks:
        return PlatformChecks("fake", gpu_profile=self.gpu_profile, pricing=self.pricing())

    def pricing(self) -> Pricing:
        # A stand-in for a cloud target: its GPU profile is priced by Azure's dated list.
        from cli.targets.aca.pricing import pricing

        return pricing(self.gpu_profile)

    def gpu_room(self) -> GpuRoom | None:
        return self.room
