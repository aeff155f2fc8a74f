"""`LocalTarget`: the `Target` protocol over this machine, put together from the local parts.

Commands (training, serving) and the model cache are injectable for tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path

from cli.targets.base import Capabilities, Endpoint, Execution, NoPlatform, PlatformChecks, Pricing
from cli.targets.checks import ok
from cli.targets.local.endpoint import LocalEndpoint, ServeCommand, default_serve_command
from cli.targets.local.executions import LocalExecutions, TrainCommand, default_train_command
from cli.targets.local.secrets import LocalSecretStore
from cli.targets.local.share import LocalShare
from cli.targets.local.supervisor import Supervisor
from contract import env as ftk_env
from contract import outputs as keys


def default_model_cache() -> Path:
    """`$FTK_MODEL_CACHE`, else a per-user cache shared by all projects (models download once)."""
    if env := os.environ.get(ftk_env.MODEL_CACHE):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ftk" / "model-cache"


class LocalTarget(NoPlatform):
    """Executions, endpoint and share of one project folder (`<project>/.ftk/local/`)."""

    kind = "local"
    # The runner timestamps every output line and event, so `ftk logs --since/--system` work.
    capabilities = Capabilities(log_history=True, stop_endpoint=True)

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
        self._model_cache = model_cache
        self._supervisor = Supervisor(cwd=self.share_root)
        self._executions = LocalExecutions(
            self._supervisor, self.exec_root, self.share_root, train_command, self._cache
        )
        self._endpoint = LocalEndpoint(
            self._supervisor,
            self.base / "endpoint",
            self.share_root,
            serve_command,
            self._cache,
            ready_timeout,
        )
        self.secrets = LocalSecretStore(self.base / "secret-names.json")

    def _cache(self) -> Path:
        return self.model_cache

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
        meta = self._endpoint.meta()
        if meta:
            out[keys.ACA_APP_ENDPOINT] = meta["url"]
        return out

    def share(self) -> LocalShare:
        self.share_root.mkdir(parents=True, exist_ok=True)
        return LocalShare(self.share_root)

    # -- executions ---------------------------------------------------------------------------

    def start_execution(self, run_id: str, env: Mapping[str, str] | None = None) -> Execution:
        self.share_root.mkdir(parents=True, exist_ok=True)
        return self._executions.start(run_id, env)

    def executions(self) -> list[Execution]:
        return self._executions.list()

    def get_execution(self, name: str) -> Execution:
        return self._executions.get(name)

    def stop_execution(self, name: str) -> None:
        self._executions.stop(name)

    def stream_logs(self, name: str, *, follow: bool, tail: int | None = None) -> Iterator[str]:
        return self._executions.stream_logs(name, follow=follow, tail=tail)

    def query_logs(
        self, name: str, *, since: timedelta | None, system: bool, tail: int | None = None
    ) -> Iterator[str]:
        return self._executions.query_logs(name, since=since, system=system, tail=tail)

    # -- endpoint -----------------------------------------------------------------------------

    def deploy(
        self, run_id: str | None, *, base_model: str | None, more_runs: Sequence[str] = ()
    ) -> Endpoint:
        return self._endpoint.deploy(run_id, base_model=base_model, more_runs=more_runs)

    def endpoint(self) -> Endpoint:
        return self._endpoint.endpoint()

    def stop_endpoint(self) -> bool:
        """`ftk --local endpoint --stop`: end the local inference server (Azure scales to zero);
        False if none was running."""
        return self._endpoint.stop()

    def close(self) -> None:
        """Reap this shell's ended children; executions and the server keep running detached."""
        self._supervisor.close()

    # -- the platform: this machine (no checks, free, no quota: `NoPlatform`'s gpu_room) -------

    def checks(self) -> PlatformChecks:
        target = ok("target", "--local: runs train on this machine; no Azure checks")
        return PlatformChecks(
            "local (this machine)", [target], gpu_profile="local", pricing=self.pricing()
        )

    def pricing(self) -> Pricing:
        return Pricing(per_second=0.0)  # your own machine
