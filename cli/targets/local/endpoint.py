"""The local endpoint: the local engine's server (`contract.engines.local_engine()`: `python -m
inference serve`) on a free loopback port, under the supervisor.

State lives in `.ftk/local/endpoint/` (`meta.json` with the server's `ProcessId` and URL, `log`).
An API key is generated per deploy and kept in `api_key` (mode 0600) because the server and later
`ftk chat` calls from other shells both need it; it only guards a loopback port.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cli.errors import FtkError, NotFoundError, UsageError
from cli.targets.base import Endpoint
from cli.targets.local.executions import split_line
from cli.targets.local.supervisor import ProcessId, Supervisor, read_json, write_json
from contract import env as ftk_env
from contract.engines import local_engine
from contract.layout import RunLayout

STOP_TIMEOUT_S = 20.0
READY_POLL_S = 0.5


@dataclass(frozen=True)
class ServeSpec:
    """What a local inference server is asked to serve."""

    base_model: str
    adapter: tuple[str, Path] | None  # (name, folder)
    port: int
    model_cache: Path
    more_adapters: tuple[tuple[str, Path], ...] = ()  # served beside `adapter`


ServeCommand = Callable[[ServeSpec], list[str]]


def default_serve_command(spec: ServeSpec) -> list[str]:
    argv = local_engine().local_argv
    assert argv is not None  # local_engine() is an entry with a local argv
    return argv(
        sys.executable,
        base_model=spec.base_model,
        adapter=spec.adapter,
        host="127.0.0.1",
        port=spec.port,
        model_cache=spec.model_cache,
        more_adapters=spec.more_adapters,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_ready(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url + local_engine().ready_path, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


class LocalEndpoint:
    """Deploy, describe and stop the one local inference server of a project."""

    def __init__(
        self,
        supervisor: Supervisor,
        folder: Path,
        share_root: Path,
        serve_command: ServeCommand,
        model_cache: Callable[[], Path],
        ready_timeout: float,
    ):
        self.supervisor = supervisor
        self.folder = folder
        self.share_root = share_root
        self._serve_command = serve_command
        self._model_cache = model_cache
        self.ready_timeout = ready_timeout

    def meta(self) -> dict | None:
        return read_json(self.folder / "meta.json")

    def stop(self) -> bool:
        """End the server if it runs (and is still the process ftk started); True if it did."""
        return self.supervisor.stop_state(self.folder, timeout=STOP_TIMEOUT_S)

    def _write_key(self) -> str:
        key = secrets.token_urlsafe(32)
        path = self.folder / "api_key"
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key

    def deploy(
        self, run_id: str | None, *, base_model: str | None, more_runs: Sequence[str] = ()
    ) -> Endpoint:
        if not base_model:
            raise UsageError("no base model to serve", hint="pass --base MODEL")
        adapters = []
        for run in [run_id, *more_runs] if run_id else []:
            layout = RunLayout(run)
            if not (self.share_root / layout.adapter_config).is_file():
                raise NotFoundError(
                    f"run {run} has no adapter on the local share",
                    hint=f"see `ftk --local ps`; continue an unfinished run: `ftk resume {run}`",
                )
            adapters.append((run, self.share_root / layout.adapter))
        adapter = adapters[0] if adapters else None
        self.stop()
        if self.folder.exists():
            for stale in ("log", "events.log", "exit.json", "meta.json", "child.json"):
                (self.folder / stale).unlink(missing_ok=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        key = self._write_key()
        cache = self._model_cache()
        spec = ServeSpec(base_model, adapter, _free_port(), cache, tuple(adapters[1:]))
        url = f"http://127.0.0.1:{spec.port}"
        env = {ftk_env.API_KEY: key, ftk_env.MODEL_CACHE: str(cache)}
        server = self.supervisor.spawn(self.folder, self._serve_command(spec), env)
        model = run_id or base_model
        meta = {
            "url": url,
            **server.record(),
            "run_id": run_id,
            "run_ids": [name for name, _ in adapters],
            "base_model": base_model,
            "model": model,
            "started_at": datetime.now(UTC).isoformat(),
        }
        write_json(self.folder / "meta.json", meta)
        self._wait_ready(url, server)
        served = tuple(name for name, _ in adapters)
        return Endpoint(
            url=url,
            api_key=key,
            ready=True,
            model=model,
            adapters=served,
            ready_path=local_engine().ready_path,
        )

    def _wait_ready(self, url: str, server: ProcessId) -> None:
        from cli.ops.wake import wait_ready

        def still_running() -> None:
            if not self.supervisor.alive(server):
                tail = self._log_tail()
                raise FtkError(
                    "the local inference server exited before it was ready"
                    + (f": {tail}" if tail else ""),
                    hint=f"its full log is {self.folder / 'log'}",
                )

        try:
            wait_ready(
                url,
                timeout=self.ready_timeout,
                interval=READY_POLL_S,
                check=still_running,
                what="the local inference server",
                hint=f"see {self.folder / 'log'}",
                path=local_engine().ready_path,
            )
        except (FtkError, KeyboardInterrupt):
            self.supervisor.terminate(server)
            raise

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = (self.folder / "log").read_text(errors="replace").splitlines()
            return " | ".join(split_line(ln)[1] for ln in lines[-3:])
        return ""

    def endpoint(self) -> Endpoint:
        meta = self.meta()
        if not meta:
            raise NotFoundError(
                "nothing is deployed locally", hint="start a server with `ftk --local deploy RUN`"
            )
        key_file = self.folder / "api_key"
        key = key_file.read_text().strip() if key_file.exists() else None
        ready = self.supervisor.state_alive(self.folder) and _is_ready(meta["url"])
        served = tuple(meta.get("run_ids") or ([meta["run_id"]] if meta.get("run_id") else []))
        return Endpoint(
            url=meta["url"],
            api_key=key,
            ready=ready,
            model=meta.get("model"),
            adapters=served,
            ready_path=local_engine().ready_path,
        )
