"""`--local`: the whole loop on this machine, no Azure.

- share: `<project>/.ftk/local/share/` (a folder; writes are atomic);
- executions: detached subprocesses (own session and process group) running
  `python -m training --config <share>/runs/<run>/config.yaml --workspace <share>` from the share,
  as the job does, through `local_runner.py`, which records output, events and the exit code under
  `.ftk/local/executions/<name>/`, so `ps`, `logs` and `stop` work from any shell;
- endpoint: `python -m inference serve` started detached on a free loopback port, with an API key
  generated per deploy and kept in `.ftk/local/endpoint/api_key` (mode 0600) because the server
  and later `ftk chat` calls from other shells both need it; it only guards a loopback port;
- secrets: never stored. A local execution inherits the user's environment, so `ftk secret set`
  only records the *name* (in `.ftk/local/secret-names.json`) and `ftk run` warns when a recorded
  name is missing from the environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli.errors import FtkError, NotFoundError, UnavailableError, UsageError
from cli.targets.base import Endpoint, Execution, ExecutionStatus, LogNotice
from cli.targets.local_share import LocalShare
from contract import env as ftk_env
from contract import outputs as keys
from contract.commands import serve_argv, train_argv
from contract.exit_codes import TrainingExit
from contract.layout import RunLayout

RUNNER = Path(__file__).with_name("local_runner.py")
POLL_S = 0.2


@dataclass(frozen=True)
class ServeSpec:
    """What a local inference server is asked to serve."""

    base_model: str
    adapter: tuple[str, Path] | None  # (name, folder)
    port: int
    model_cache: Path


TrainCommand = Callable[[Path, Path], list[str]]  # (config file, workspace) -> argv
ServeCommand = Callable[[ServeSpec], list[str]]


def default_train_command(config: Path, workspace: Path) -> list[str]:
    return train_argv(sys.executable, config, workspace)


def default_serve_command(spec: ServeSpec) -> list[str]:
    return serve_argv(
        sys.executable,
        base_model=spec.base_model,
        adapter=spec.adapter,
        host="127.0.0.1",
        port=spec.port,
        model_cache=spec.model_cache,
    )


def default_model_cache() -> Path:
    """`$FTK_MODEL_CACHE`, else a per-user cache shared by all projects (models download once)."""
    if env := os.environ.get(ftk_env.MODEL_CACHE):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ftk" / "model-cache"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _split_line(raw: str) -> tuple[str, str]:
    stamp, _, text = raw.rstrip("\n").partition("\t")
    return stamp, text


class LocalTarget:
    """The `Target` protocol over this machine. Commands are injectable for tests."""

    stores_secrets = False

    def __init__(
        self,
        project_dir: Path,
        *,
        train_command: TrainCommand = default_train_command,
        serve_command: ServeCommand = default_serve_command,
        model_cache: Path | None = None,
        ready_timeout: float = 900.0,
    ):
        self.project_dir = project_dir.resolve()
        self.base = self.project_dir / ".ftk" / "local"
        self.share_root = self.base / "share"
        self.exec_root = self.base / "executions"
        self.endpoint_dir = self.base / "endpoint"
        self._train_command = train_command
        self._serve_command = serve_command
        self._model_cache = model_cache
        self.ready_timeout = ready_timeout
        self._children: dict[int, subprocess.Popen] = {}

    # -- describe ---------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return "local"

    @property
    def model_cache(self) -> Path:
        return self._model_cache or default_model_cache()

    def describe(self) -> Mapping[str, str]:
        out = {
            keys.FILE_SHARE_NAME: str(self.share_root),
            keys.MOUNT_PATH: str(self.share_root),
            keys.ACA_JOB_NAME: "local",
            keys.GPU_PROFILE: "local",
            ftk_env.MODEL_CACHE: str(self.model_cache),
        }
        meta = _read_json(self.endpoint_dir / "meta.json")
        if meta:
            out[keys.ACA_APP_ENDPOINT] = meta["url"]
        return out

    def share(self) -> LocalShare:
        self.share_root.mkdir(parents=True, exist_ok=True)
        return LocalShare(self.share_root)

    # -- processes --------------------------------------------------------------------------

    def _alive(self, pid: int) -> bool:
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None  # our own child: reap it, or it lingers as a zombie
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _spawn(self, state: Path, argv: list[str], env: Mapping[str, str]) -> int:
        state.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, **env, ftk_env.PYTHONUNBUFFERED: "1"}
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER), str(state), "--", *argv],
            cwd=self.share_root,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # survives this shell and Ctrl-C; `stop` signals the group
        )
        self._children[proc.pid] = proc
        return proc.pid

    def _terminate_group(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)

    # -- executions -------------------------------------------------------------------------

    def start_execution(self, run_id: str, env: Mapping[str, str] | None = None) -> Execution:
        config = self.share_root / RunLayout(run_id).config
        if not config.is_file():
            raise NotFoundError(
                f"run {run_id} has no config.yaml on the local share",
                hint="start it with `ftk --local run CONFIG.yaml`",
            )
        started = datetime.now(UTC)
        name = f"{run_id}-{started:%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
        state = self.exec_root / name
        child_env = {
            ftk_env.RUN_ID: run_id,
            ftk_env.WORKSPACE: str(self.share_root),
            ftk_env.MOUNT_PATH: str(self.share_root),
            ftk_env.MODEL_CACHE: str(self.model_cache),
            **(env or {}),
        }
        argv = self._train_command(config, self.share_root)
        pid = self._spawn(state, argv, child_env)
        meta = {"name": name, "run_id": run_id, "pid": pid, "started_at": started.isoformat()}
        _write_json(state / "meta.json", meta)
        return Execution(name, run_id, ExecutionStatus.RUNNING, started_at=started)

    def _load(self, state: Path) -> Execution | None:
        meta = _read_json(state / "meta.json")
        if not meta:
            return None
        ended = _read_json(state / "exit.json")
        stop_requested = (state / "stop_requested").exists()
        code = ended["exit_code"] if ended else None
        if ended is None:
            # A runner stopped before it could install its SIGTERM handler writes no exit.json.
            if self._alive(int(meta["pid"])):
                status = ExecutionStatus.RUNNING
            elif stop_requested:
                status = ExecutionStatus.STOPPED
            else:
                status = ExecutionStatus.FAILED
        elif stop_requested and code != 0:
            status = ExecutionStatus.STOPPED
        elif code == 0:
            status = ExecutionStatus.SUCCEEDED
        elif code == TrainingExit.RESUMABLE:
            status = ExecutionStatus.RESUMABLE
        else:
            status = ExecutionStatus.FAILED
        return Execution(
            name=meta["name"],
            run_id=meta.get("run_id"),
            status=status,
            started_at=_parse_time(meta.get("started_at")),
            ended_at=_parse_time(ended.get("ended_at")) if ended else None,
            exit_code=code,
        )

    def executions(self) -> list[Execution]:
        if not self.exec_root.is_dir():
            return []
        found = [e for d in self.exec_root.iterdir() if d.is_dir() and (e := self._load(d))]
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(found, key=lambda e: e.started_at or epoch, reverse=True)

    def _state(self, name: str) -> Path:
        state = self.exec_root / name
        if "/" in name or name.startswith(".") or not (state / "meta.json").is_file():
            raise NotFoundError(f"no local execution named {name}", hint="list them with `ftk ps`")
        return state

    def get_execution(self, name: str) -> Execution:
        execution = self._load(self._state(name))
        if execution is None:
            raise NotFoundError(f"no local execution named {name}", hint="list them with `ftk ps`")
        return execution

    def stop_execution(self, name: str) -> None:
        state = self._state(name)
        execution = self.get_execution(name)
        if execution.status.finished:
            raise UsageError(f"execution {name} already ended ({execution.status})")
        (state / "stop_requested").touch()
        meta = _read_json(state / "meta.json") or {}
        self._terminate_group(int(meta["pid"]))

    def stream_logs(self, name: str, *, follow: bool, tail: int | None = None) -> Iterator[str]:
        state = self._state(name)
        log = state / "log"
        while not log.exists():
            if not follow or self.get_execution(name).status.finished:
                yield LogNotice(f"{name} has written no log yet")
                return
            time.sleep(POLL_S)
        with log.open("r", encoding="utf-8", errors="replace") as fh:
            first = fh.readlines()
            complete = [ln for ln in first if ln.endswith("\n")]
            pending = "".join(first[len(complete) :])
            for raw in complete[-tail:] if tail else complete:
                yield _split_line(raw)[1]
            if not follow:
                return
            while True:
                finished = self.get_execution(name).status.finished
                chunk = fh.read()
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split("\n")
                    for raw in lines:
                        yield _split_line(raw)[1]
                elif finished:
                    return
                else:
                    time.sleep(POLL_S)

    def query_logs(
        self, name: str, *, since: timedelta | None, system: bool, tail: int | None = None
    ) -> Iterator[str]:
        """Timestamped history: console lines, or (`system`) the runner's events."""
        path = self._state(name) / ("events.log" if system else "log")
        none = LogNotice(f"no {'event' if system else 'log'} lines for {name} in that time")
        if not path.exists():
            return iter([none])
        cutoff = datetime.now(UTC) - since if since else None
        lines = []
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stamp, text = _split_line(raw)
            with contextlib.suppress(ValueError):
                if cutoff and datetime.fromisoformat(stamp) < cutoff:
                    continue
            lines.append(f"{stamp}  {text}")
        return iter((lines[-tail:] if tail else lines) or [none])

    # -- secrets ----------------------------------------------------------------------------

    @property
    def _secret_names_file(self) -> Path:
        return self.base / "secret-names.json"

    def list_secrets(self) -> list[str]:
        data = _read_json(self._secret_names_file) or {}
        return sorted(data.get("names", []))

    def _save_secret_names(self, names: list[str]) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        _write_json(self._secret_names_file, {"names": sorted(set(names))})

    def set_secret(self, name: str, value: str, *, apply: bool = False) -> str:
        """Records the name only; the value is never stored (local runs read the environment)."""
        self._save_secret_names([*self.list_secrets(), name])
        state = "is set" if os.environ.get(name) else "is NOT set"
        return (
            f"local runs read {name} from your environment (it {state} in this shell); "
            f"ftk stores no secret values locally. Export it before `ftk --local run`."
        )

    def remove_secret(self, name: str, *, apply: bool = False) -> str:
        names = self.list_secrets()
        if name not in names:
            raise NotFoundError(f"no local secret named {name}", hint="see `ftk secret list`")
        self._save_secret_names([n for n in names if n != name])
        return f"{name} is no longer expected by local runs"

    # -- endpoint ---------------------------------------------------------------------------

    def _stop_server(self) -> bool:
        meta = _read_json(self.endpoint_dir / "meta.json")
        if not (meta and self._alive(int(meta["pid"]))):
            return False
        self._terminate_group(int(meta["pid"]))
        deadline = time.monotonic() + 20
        while self._alive(int(meta["pid"])) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        return True

    def stop_endpoint(self) -> str:
        """`ftk --local endpoint --stop`: end the local inference server (Azure scales to zero)."""
        if not self._stop_server():
            raise NotFoundError("no local inference server is running")
        return "the local inference server stopped; `ftk --local deploy` starts it again"

    def _write_key(self) -> str:
        key = secrets.token_urlsafe(32)
        path = self.endpoint_dir / "api_key"
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key

    def deploy(self, run_id: str | None, *, base_model: str | None) -> Endpoint:
        if not base_model:
            raise UsageError("no base model to serve", hint="pass --base MODEL")
        adapter = None
        if run_id:
            folder = self.share_root / RunLayout(run_id).adapter
            if not (self.share_root / RunLayout(run_id).adapter_config).is_file():
                raise NotFoundError(
                    f"run {run_id} has no adapter on the local share",
                    hint=f"see `ftk --local ps`; continue an unfinished run: `ftk resume {run_id}`",
                )
            adapter = (run_id, folder)
        self._stop_server()
        if self.endpoint_dir.exists():
            for stale in ("log", "events.log", "exit.json", "meta.json"):
                (self.endpoint_dir / stale).unlink(missing_ok=True)
        self.endpoint_dir.mkdir(parents=True, exist_ok=True)
        key = self._write_key()
        spec = ServeSpec(base_model, adapter, _free_port(), self.model_cache)
        url = f"http://127.0.0.1:{spec.port}"
        env = {ftk_env.API_KEY: key, ftk_env.MODEL_CACHE: str(self.model_cache)}
        pid = self._spawn(self.endpoint_dir, self._serve_command(spec), env)
        model = run_id or base_model
        meta = {
            "url": url,
            "pid": pid,
            "run_id": run_id,
            "base_model": base_model,
            "model": model,
            "started_at": datetime.now(UTC).isoformat(),
        }
        _write_json(self.endpoint_dir / "meta.json", meta)
        self._wait_ready(url, pid)
        return Endpoint(url=url, api_key=key, ready=True, model=model)

    def _wait_ready(self, url: str, pid: int) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if _is_ready(url):
                return
            if not self._alive(pid):
                tail = self._server_log_tail()
                raise FtkError(
                    "the local inference server exited before it was ready"
                    + (f": {tail}" if tail else ""),
                    hint=f"its full log is {self.endpoint_dir / 'log'}",
                )
            time.sleep(0.5)
        self._terminate_group(pid)
        raise UnavailableError(
            f"the local inference server was not ready after {self.ready_timeout:.0f}s",
            hint=f"see {self.endpoint_dir / 'log'}",
        )

    def _server_log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = (self.endpoint_dir / "log").read_text(errors="replace").splitlines()
            return " | ".join(_split_line(ln)[1] for ln in lines[-3:])
        return ""

    def endpoint(self) -> Endpoint:
        meta = _read_json(self.endpoint_dir / "meta.json")
        if not meta:
            raise NotFoundError(
                "nothing is deployed locally", hint="start a server with `ftk --local deploy RUN`"
            )
        key_file = self.endpoint_dir / "api_key"
        key = key_file.read_text().strip() if key_file.exists() else None
        ready = self._alive(int(meta["pid"])) and _is_ready(meta["url"])
        return Endpoint(url=meta["url"], api_key=key, ready=ready, model=meta.get("model"))


def _is_ready(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/ready", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
