"""`AzureTarget`: the `Target` protocol over one deployment's parts.

The parts (job executions, their logs, the share, the inference app, a secret store) share one
`Deployment`; `from_stack` and `from_infra_files` choose them. What the doctor and the verbs ask
of Azure itself (the doctor's rows, prices, free GPU quota) lives beside them: `doctor/` and
`pricing.py`. A stack keeps job secrets in its
config and its job runs ftk's command; an --infra job (the AI Toolkit's) keeps secrets on the
job and runs its own command, which ftk changes to its own once (`job_command.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path

from cli.errors import UsageError
from cli.targets.aca.app import InferenceApp
from cli.targets.aca.job import JobExecutions
from cli.targets.aca.job_command import JobCommand
from cli.targets.aca.job_logs import JobLogs
from cli.targets.aca.resources import Deployment
from cli.targets.aca.secrets_job import JobSecretStore
from cli.targets.aca.secrets_stack import StackSecretStore
from cli.targets.azure.clients import AzureConnection
from cli.targets.azure.config import TargetConfig
from cli.targets.azure.share import AzureFileShare
from cli.targets.azure.stack import PulumiStack
from cli.targets.base import (
    Capabilities,
    Endpoint,
    Execution,
    GpuRoom,
    PlatformChecks,
    Pricing,
    SecretStore,
)
from contract import outputs as keys


class AzureTarget:
    """Azure Container Apps + Azure Files + Log Analytics."""

    capabilities = Capabilities(log_history=True, wakes_on_request=True, deploy_overlaps=True)

    def __init__(
        self,
        deployment: Deployment,
        *,
        kind: str,
        secrets: SecretStore,
        command: JobCommand | None = None,
        stack: PulumiStack | None = None,
    ):
        self.kind = kind
        self.stack = stack  # the Pulumi stack behind a stack target (its config, its outputs)
        self.deployment = deployment
        self.secrets = secrets
        self._share: AzureFileShare | None = None
        self.jobs = JobExecutions(deployment, self.share, command=command)
        self.logs = JobLogs(deployment, lambda name: self.jobs.get(name).status)
        self.app = InferenceApp(deployment)

    @classmethod
    def from_stack(
        cls, project_dir: Path, stack: str | None, *, connection: AzureConnection | None = None
    ) -> AzureTarget:
        pulumi_stack = PulumiStack.open(project_dir, stack)
        deployment = Deployment(pulumi_stack.config, connection or AzureConnection.from_env())
        secrets = StackSecretStore(pulumi_stack, deployment)
        return cls(deployment, kind="stack", secrets=secrets, stack=pulumi_stack)

    @classmethod
    def from_infra_files(
        cls, files: list[Path], *, connection: AzureConnection | None = None
    ) -> AzureTarget:
        from cli.targets.azure.infra_files import read_infra_files

        config = read_infra_files(list(files))
        deployment = Deployment(config, connection or AzureConnection.from_env())
        secrets = JobSecretStore(deployment)
        return cls(deployment, kind="infra", secrets=secrets, command=JobCommand(deployment))

    @property
    def config(self) -> TargetConfig:
        return self.deployment.config

    def describe(self) -> Mapping[str, str]:
        return self.config.public()

    def share(self) -> AzureFileShare:
        if self._share is None:
            from cli.targets.azure.storage import open_share

            self._share = open_share(self.deployment)
        return self._share

    def start_execution(self, run_id: str, env: Mapping[str, str] | None = None) -> Execution:
        return self.jobs.start(run_id, env)

    def executions(self) -> list[Execution]:
        return self.jobs.list()

    def get_execution(self, name: str) -> Execution:
        return self.jobs.get(name)

    def stop_execution(self, name: str) -> None:
        self.jobs.stop(name)

    def stream_logs(self, name: str, *, follow: bool, tail: int | None = None) -> Iterator[str]:
        return self.logs.stream(name, follow=follow, tail=tail)

    def query_logs(
        self, name: str, *, since: timedelta | None, system: bool, tail: int | None = None
    ) -> Iterator[str]:
        return self.logs.query(name, since=since, system=system, tail=tail)

    def deploy(
        self, run_id: str | None, *, base_model: str | None, more_runs: Sequence[str] = ()
    ) -> Endpoint:
        return self.app.deploy(run_id, base_model=base_model, more_runs=more_runs)

    def endpoint(self) -> Endpoint:
        return self.app.endpoint()

    def stop_endpoint(self) -> bool:
        raise UsageError("an Azure app scales to zero by itself; there is nothing to stop")

    def close(self) -> None:
        if self._share is not None:
            self._share.close()
        self.deployment.close()

    # -- the platform: Azure's checks, prices and quota (cli/targets/aca/doctor, pricing.py) --

    def checks(self) -> PlatformChecks:
        from cli.targets.aca.doctor.checks import platform_checks

        return platform_checks(self)

    def pricing(self) -> Pricing:
        from cli.targets.aca.pricing import pricing

        return pricing(self.describe().get(keys.GPU_PROFILE))

    def gpu_room(self) -> GpuRoom | None:
        from cli.targets.aca.doctor.capacity import serverless_gpu_room

        return serverless_gpu_room(self)
