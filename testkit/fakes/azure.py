"""`FakeAzure`: one loopback HTTPS server playing ARM, Azure Files, the log stream and Log
Analytics for one ftk deployment, plus the fake credential and the `AzureConnection` that points
the real SDK clients at it.

    with FakeAzure(tmp_path) as fake:
        target = target_from_outputs(fake.outputs(), connection=fake.connection())
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract import env as ftk_env
from contract.commands import JOB_COMMANDS, bash_script
from contract.requests import claim_path
from testkit.fakes.azure_arm import ARM_TOKEN, FakeArm, FakeExecution
from testkit.fakes.azure_files import FakeFileShares
from testkit.fakes.http import LoopbackHTTPS, Request, Response


class FakeCredential:
    """A TokenCredential. `error` set: raise it, like DefaultAzureCredential without a login."""

    def __init__(self) -> None:
        self.error: Exception | None = None
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls += 1
        if self.error is not None:
            raise self.error
        return AccessToken(ARM_TOKEN, int(time.time()) + 3600)


class FakeAzure:
    SUBSCRIPTION = "00000000-0000-4000-8000-00000000f7c0"
    RESOURCE_GROUP = "rg-ftk-dev"
    JOB = "ftk-dev-job"
    APP = "ftk-dev-app"
    ACCOUNT = "ftkdevstore"
    SHARE = "ftk"
    WORKSPACE_ID = "11111111-2222-4333-8444-555555555555"

    def __init__(self, workdir: Path, *, lifetime: float = 900.0):
        self.server = LoopbackHTTPS(self._handle, workdir, lifetime=lifetime)
        self.url = self.server.url
        self.faults = self.server.faults
        self.arm = FakeArm(
            sub=self.SUBSCRIPTION,
            rg=self.RESOURCE_GROUP,
            job=self.JOB,
            app=self.APP,
            account=self.ACCOUNT,
            url=self.url,
        )
        # The job as today's stack declares it (contract.commands): it claims its run.
        job = self.arm.jobs[self.JOB]["properties"]["template"]["containers"][0]
        job["command"] = ["/bin/bash", "-c", bash_script(JOB_COMMANDS)]
        self.files = FakeFileShares(self.ACCOUNT, [self.SHARE])
        self.credential = FakeCredential()

    def __enter__(self) -> FakeAzure:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def _handle(self, req: Request) -> Response:
        if req.path.startswith("/_fake/"):
            return self._control(req)
        if req.path.startswith(f"/{self.ACCOUNT}"):
            self.files.keys = list(self.arm.on_list_keys)
            return self.files.handle(req)
        return self.arm.handle(req)

    def _control(self, req: Request) -> Response:
        """Knobs for a fake running in another process (benchmarks): latency, reset, stats."""
        action = req.path.removeprefix("/_fake/")
        if action == "latency":
            self.faults.latency = float(req.query.get("ms", "0")) / 1000
        elif action == "reset":
            with self.files.lock:
                for share in self.files.files:
                    self.files.files[share].clear()
                    self.files.dirs[share] = {""}
            self.server.log.clear()
        elif action != "stats":
            return Response(404)
        log = list(self.server.log)
        stats = {
            "requests": len(log),
            "puts": sum(1 for line in log if line.startswith("PUT")),
            "storage_requests": sum(1 for line in log if f" /{self.ACCOUNT}" in line),
            "bytes": sum(len(c) for c in self.files.files[self.SHARE].values()),
        }
        return Response.json(200, stats)

    def connection(self, **overrides: Any) -> Any:
        from cli.targets.azure.clients import AzureConnection

        values: dict[str, Any] = {
            "arm_endpoint": self.url,
            "storage_endpoint": f"{self.url}/{{account}}",
            "logs_endpoint": self.url,
            "connection_verify": self.server.ca_file,
            "credential_factory": lambda: self.credential,
            "retry_total": 3,
            "retry_backoff_factor": 0.0,
            "retry_backoff_max": 0.0,
            "polling_interval": 0.0,
            "deploy_timeout": 5.0,
            "max_connections": 16,
        }
        values.update(overrides)
        return AzureConnection(**values)

    def env(self) -> dict[str, str]:
        """FTK_AZURE_* variables that point a CLI at this fake (the credential is patched apart)."""
        return {
            "FTK_AZURE_ARM_ENDPOINT": self.url,
            "FTK_AZURE_STORAGE_ENDPOINT": f"{self.url}/{{account}}",
            "FTK_AZURE_LOGS_ENDPOINT": self.url,
            "FTK_AZURE_CA_BUNDLE": self.server.ca_file,
            "FTK_AZURE_POLL_SECONDS": "0",
            "FTK_AZURE_RETRY_BACKOFF": "0",
        }

    def outputs(self, **overrides: Any) -> dict[str, Any]:
        """What `pulumi stack output --json --show-secrets` would print for this deployment."""
        values: dict[str, Any] = {
            "SUBSCRIPTION_ID": self.SUBSCRIPTION,
            "RESOURCE_GROUP_NAME": self.RESOURCE_GROUP,
            "STORAGE_ACCOUNT_NAME": self.ACCOUNT,
            "FILE_SHARE_NAME": self.SHARE,
            "ACA_JOB_NAME": self.JOB,
            "COMMANDS": [
                "cd $MOUNT_PATH",
                "python -m training --config runs/$FTK_RUN_ID/config.yaml",
            ],
            "ACA_APP_NAME": self.APP,
            "ACA_APP_ENDPOINT": f"https://{self.APP}.fake.azurecontainerapps.io",
            "LOG_ANALYTICS_NAME": "ftk-dev-logs",
            "LOCATION": "swedencentral",
            "ACA_ENVIRONMENT_NAME": "ftk-dev-env",
            "LOG_ANALYTICS_WORKSPACE_ID": self.WORKSPACE_ID,
            "GPU_PROFILE": "NC24-A100",
            "MOUNT_PATH": "/mount",
            "ACA_APP_API_KEY": "sk-fake-endpoint-key",
        }
        values.update(overrides)
        return values

    def infra_files(self) -> dict[str, dict[str, Any]]:
        """The AI Toolkit's two config files, as it writes them after provisioning."""
        out = self.outputs()
        finetuning = {
            k: out[k]
            for k in (
                "SUBSCRIPTION_ID",
                "RESOURCE_GROUP_NAME",
                "STORAGE_ACCOUNT_NAME",
                "FILE_SHARE_NAME",
                "ACA_JOB_NAME",
                "COMMANDS",
            )
        }
        inference = {
            k: out[k]
            for k in (
                "SUBSCRIPTION_ID",
                "RESOURCE_GROUP_NAME",
                "STORAGE_ACCOUNT_NAME",
                "FILE_SHARE_NAME",
                "ACA_APP_NAME",
                "ACA_APP_ENDPOINT",
            )
        }
        return {"finetuning.config.json": finetuning, "inference.config.json": inference}


def target_from_outputs(
    outputs: dict[str, Any], *, connection: Any, infra: bool = False, stack: Any = None
) -> Any:
    """An `AzureTarget` from already-read output values, built from its parts as `from_stack`
    (given a `stack`) or `from_infra_files` (`infra`) would; with neither, a stack target whose
    secrets are patched on the job (so tests need no Pulumi)."""
    from cli.targets.aca import AzureTarget
    from cli.targets.aca.resources import Deployment
    from cli.targets.aca.secrets_job import JobSecretStore
    from cli.targets.aca.secrets_stack import StackSecretStore
    from cli.targets.azure.config import TargetConfig
    from contract.outputs import SECRET_KEYS

    config = TargetConfig(
        origin="given outputs",
        values={k: v for k, v in outputs.items() if k not in SECRET_KEYS},
        secrets={k: v for k, v in outputs.items() if k in SECRET_KEYS},
        from_stack=not infra,
    )
    deployment = Deployment(config, connection)
    secrets = StackSecretStore(stack, deployment) if stack else JobSecretStore(deployment)
    from cli.targets.aca.job_command import JobCommand

    kind = "infra" if infra else "stack"
    command = JobCommand(deployment) if infra else None
    return AzureTarget(deployment, kind=kind, secrets=secrets, command=command)


def _share_on_disk(fake: FakeAzure, root: Path) -> None:
    """Copy the fake share's files under `root`, as the container's mount shows them."""
    for path, data in fake.files.files[fake.SHARE].items():
        local = root / path
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(bytes(data))


def _share_from_disk(fake: FakeAzure, root: Path) -> None:
    """Make the fake share hold what `root` holds (what the container left on its mount)."""
    files, dirs = fake.files.files[fake.SHARE], fake.files.dirs[fake.SHARE]
    files.clear()
    for local in sorted(root.rglob("*")):
        rel = local.relative_to(root).as_posix()
        if local.is_dir():
            dirs.add(rel)
        else:
            files[rel] = bytearray(local.read_bytes())


def run_replica(
    fake: FakeAzure,
    execution: str,
    train: Callable[[str, Path], tuple[list[str], int]] | None = None,
) -> tuple[list[str], int]:
    """What an execution's replica does after its install: the job's own entry point,
    `python -m training claim` (training/claim.py, run here in-process with no wait for a late
    request), on a copy of the fake share mounted at a temporary folder; the result goes back
    to the share. `train(run_id, workspace)` stands in for the training of the run it took
    (`training.cli.train`) and returns the lines it prints and its exit code (default: one line,
    exit 0). Returns the container's lines and exit code."""
    import training.claim
    import training.cli

    def fake_train(config: Path, workspace: Path, *, run_dir: Path, **_: Any) -> int:
        assert os.environ[ftk_env.RUN_ID] == run_dir.name  # as the job's process sees it
        lines, code = (train or _train_ok)(run_dir.name, workspace)
        for line in lines:
            print(line)
        return code

    saved_env = dict(os.environ)
    saved_train = training.cli.train
    saved_wait = getattr(training.claim, "REQUEST_WAIT_SECONDS", None)
    out = io.StringIO()
    with fake.files.lock, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _share_on_disk(fake, root)
        training.cli.train = fake_train  # type: ignore[assignment]
        training.claim.REQUEST_WAIT_SECONDS = 0.0  # type: ignore[misc]  # Final
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                argv = ["claim", "--workspace", str(root), "--execution", execution]
                code = training.cli.run(argv)
        finally:
            training.cli.train = saved_train  # type: ignore[assignment]
            if saved_wait is not None:
                training.claim.REQUEST_WAIT_SECONDS = saved_wait  # type: ignore[misc]
            os.environ.clear()
            os.environ.update(saved_env)
        _share_from_disk(fake, root)
    return out.getvalue().splitlines(), int(code)


def _train_ok(run_id: str, workspace: Path) -> tuple[list[str], int]:
    status = workspace / "runs" / run_id / "status"
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text("succeeded\n")
    return [f"{run_id}: trained"], 0


def replica_claims(fake: FakeAzure, execution: str) -> str | None:
    """Run `execution`'s replica (`run_replica`); the run it trained, or None."""
    from contract.requests import RunRequest

    run_replica(fake, execution)
    try:
        return RunRequest.from_bytes(fake.files.read(fake.SHARE, claim_path(execution))).run_id
    except (KeyError, ValueError):
        return None


def play_replicas(
    fake: FakeAzure, train: Callable[[str, Path], tuple[list[str], int]] | None = None
) -> None:
    """From now on each execution's replica runs `run_replica` when it starts; its lines become
    the execution's console log and its exit code the execution's end (0: Succeeded)."""

    def play(execution: FakeExecution) -> None:
        lines, code = run_replica(fake, execution.name, train)
        execution.lines = lines
        execution.finish_when_drained = "Succeeded" if code == 0 else "Failed"

    fake.arm.on_replica_start = play
