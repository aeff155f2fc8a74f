"""The fine-tuning job: a manual-trigger ACA job on the GPU profile running the stack's commands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.app as app

from contract.secrets import aca_secret_name
from stacks.component import FtkComponent
from stacks.registry import RegistryPull
from stacks.share_mount import ShareWorkload, share_container, share_volume


@dataclass(frozen=True)
class FinetuningJobArgs:
    """What the job component needs from the stack."""

    workload: ShareWorkload
    job_name: str
    image: pulumi.Input[str]
    commands: Sequence[str]
    timeout: int
    replica_retry_limit: int
    env: Mapping[str, str]  # plain env vars
    secrets: Mapping[str, pulumi.Input[str]]  # env var name -> value, kept secret
    pull: RegistryPull | None = None  # the prebuilt image's registry (prebuiltImage)


class FinetuningJob(FtkComponent):
    """One replica, one completion, `replicaTimeout` = timeout; secrets only via `secretRef`."""

    job_name: pulumi.Output[str]
    job_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: FinetuningJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("FinetuningJob", name, opts)
        secrets = [
            app.SecretArgs(name=aca_secret_name(k), value=pulumi.Output.secret(v))
            for k, v in args.secrets.items()
        ]
        job = app.Job(
            f"{name}-job",
            job_name=args.job_name,
            **args.workload.placement(),
            configuration=app.JobConfigurationArgs(
                trigger_type=app.TriggerType.MANUAL,
                replica_timeout=args.timeout,
                replica_retry_limit=args.replica_retry_limit,
                manual_trigger_config=app.JobConfigurationManualTriggerConfigArgs(
                    parallelism=1, replica_completion_count=1
                ),
                secrets=secrets or None,
                registries=args.pull.registries() if args.pull else None,
            ),
            identity=args.pull.identity() if args.pull else None,
            template=app.JobTemplateArgs(
                containers=[
                    share_container(
                        args.workload,
                        name=args.job_name,
                        image=args.image,
                        commands=args.commands,
                        env=args.env,
                        secret_env={k: aca_secret_name(k) for k in args.secrets},
                    )
                ],
                volumes=[share_volume(args.workload)],
            ),
            opts=self._child(),
        )
        self.job_name, self.job_id = job.name, job.id
        self.register_outputs({"job_name": self.job_name, "job_id": self.job_id})
