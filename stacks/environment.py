"""The Container Apps environment (Consumption + one GPU profile) and its storage for the share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native.app as app

from contract import gpus
from stacks.component import FtkComponent
from stacks.settings import SettingsError


@dataclass(frozen=True)
class EnvironmentArgs:
    """What the environment component needs from the stack."""

    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    environment_name: str
    existing_environment: bool
    storage_name: str
    existing_storage: bool
    gpu_profile_type: str
    gpu_profile_name: str
    gpu_minimum_count: int | None  # None on serverless profiles: ARM rejects counts there
    gpu_maximum_count: int | None
    # None when the stack references an environment and no workspace.
    log_customer_id: pulumi.Input[str] | None
    log_shared_key: pulumi.Input[str] | None
    storage_account_name: pulumi.Input[str]
    storage_account_key: pulumi.Input[str]
    share_name: pulumi.Input[str]
    tags: Mapping[str, str]


class Environment(FtkComponent):
    """Creates or references the managed environment; mounts the share as environment storage.

    `storage_name` is what a volume's `storageName` must reference. `log_customer_id` is the
    workspace the environment logs to (read from an existing environment when one is used).
    """

    environment_id: pulumi.Output[str]
    environment_name: pulumi.Output[str]
    default_domain: pulumi.Output[str]
    storage_name: pulumi.Output[str]
    log_customer_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("Environment", name, opts)
        rg = args.resource_group_name
        if args.existing_environment:
            found = app.get_managed_environment_output(
                environment_name=args.environment_name, resource_group_name=rg
            )
            # The profile check rides on the id, so the job and app wait for it.
            self.environment_id = pulumi.Output.all(found.id, found.workload_profiles).apply(
                lambda v: _require_profile(args, v[0], v[1])
            )
            self.environment_name = found.name
            self.default_domain = found.default_domain
            self.log_customer_id = found.app_logs_configuration.apply(_customer_id)
        else:
            env = self._create(name, args)
            self.environment_id, self.environment_name = env.id, env.name
            self.default_domain = env.default_domain
            self.log_customer_id = pulumi.Output.from_input(args.log_customer_id or "")

        if args.existing_storage:
            self.storage_name = app.get_managed_environments_storage_output(
                environment_name=self.environment_name,
                storage_name=args.storage_name,
                resource_group_name=rg,
            ).name
        else:
            self.storage_name = app.ManagedEnvironmentsStorage(
                f"{name}-storage",
                environment_name=self.environment_name,
                resource_group_name=rg,
                storage_name=args.storage_name,
                properties=app.ManagedEnvironmentStoragePropertiesArgs(
                    azure_file=app.AzureFilePropertiesArgs(
                        account_name=args.storage_account_name,
                        account_key=pulumi.Output.secret(args.storage_account_key),
                        share_name=args.share_name,
                        access_mode=app.AccessMode.READ_WRITE,
                    )
                ),
                opts=self._child(),
            ).name
        self.register_outputs(
            {
                "environment_id": self.environment_id,
                "environment_name": self.environment_name,
                "default_domain": self.default_domain,
                "storage_name": self.storage_name,
                "log_customer_id": self.log_customer_id,
            }
        )

    def _create(self, name: str, args: EnvironmentArgs) -> app.ManagedEnvironment:
        gpu = app.WorkloadProfileArgs(
            name=args.gpu_profile_name,
            workload_profile_type=args.gpu_profile_type,
            minimum_count=args.gpu_minimum_count,
            maximum_count=args.gpu_maximum_count,
        )
        logs = None
        if args.log_customer_id is not None:
            logs = app.AppLogsConfigurationArgs(
                destination="log-analytics",
                log_analytics_configuration=app.LogAnalyticsConfigurationArgs(
                    customer_id=args.log_customer_id,
                    shared_key=pulumi.Output.secret(args.log_shared_key or ""),
                ),
            )
        return app.ManagedEnvironment(
            f"{name}-env",
            environment_name=args.environment_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            app_logs_configuration=logs,
            workload_profiles=[
                app.WorkloadProfileArgs(name="Consumption", workload_profile_type="Consumption"),
                gpu,
            ],
            zone_redundant=False,
            tags=dict(args.tags),
            opts=self._child(),
        )


def _require_profile(args: EnvironmentArgs, env_id: str, profiles: Any) -> str:
    """An existing environment must already carry the GPU profile the job and the app name."""
    names = [getattr(p, "name", None) or (p or {}).get("name") for p in profiles or []]
    if profiles is not None and args.gpu_profile_name not in names:
        raise SettingsError(
            f"existing environment {args.environment_name!r} has no workload profile named "
            f"{args.gpu_profile_name!r} (it has: {', '.join(map(str, names)) or 'none'}); set "
            f"gpuWorkloadProfileName to its GPU profile's name, or {_how_to_add(args)}"
        )
    return env_id


def _how_to_add(args: EnvironmentArgs) -> str:
    """What the docs allow for adding this GPU profile to an environment that exists."""
    profile = gpus.GPU_PROFILES.get(args.gpu_profile_type)
    if profile is None or not profile.serverless:
        # workload-profiles-overview.md: "GPU-enabled Dedicated profiles must be configured
        # when creating an environment."
        return (
            "use a new environment (unset existingEnvironment): Azure takes a dedicated GPU "
            "profile only when it creates the environment."
        )
    location = args.location if isinstance(args.location, str) else ""
    if gpus.needs_new_environment(profile, location):
        # gpu-serverless-overview.md, "Supported regions", footnote 1.
        return (
            f"use a new environment (unset existingEnvironment): in {location}, Azure adds "
            f"{profile.type} only to a workload profiles environment newly created there."
        )
    # gpu-serverless-overview.md: a consumption GPU profile is managed "in the same manner as
    # any other workload profile" (workload-profiles-manage-cli.md: `workload-profile add`).
    return (
        f"add it: `az containerapp env workload-profile add --name {args.environment_name} "
        f"--resource-group RG --workload-profile-name {args.gpu_profile_name} "
        f"--workload-profile-type {profile.type}`."
    )


def _customer_id(logs: Any) -> str:
    analytics = getattr(logs, "log_analytics_configuration", None) if logs else None
    return getattr(analytics, "customer_id", None) or ""
