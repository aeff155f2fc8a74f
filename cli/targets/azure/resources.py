"""`Deployment`: the names and the ARM client of one deployment, shared by the target's parts.

Its values come from a `TargetConfig` (a stack's outputs or the AI Toolkit's files), read on first
use: a stack's secret verbs need only the stack's config, so they work before the first `pulumi up`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from cli.targets.azure.clients import PORTAL, AzureConnection
from cli.targets.azure.config import TargetConfig
from cli.targets.azure.errors import azure_call
from contract import outputs as keys

JOB_ROLE = "Container Apps Jobs Operator (or Contributor)"


class Deployment:
    def __init__(
        self, config: TargetConfig | Callable[[], TargetConfig], connection: AzureConnection
    ):
        self._config = config
        self.connection = connection

    @cached_property
    def config(self) -> TargetConfig:
        """The output-contract values; for a stack, read (or found missing) here, once."""
        return self._config if isinstance(self._config, TargetConfig) else self._config()

    @cached_property
    def subscription(self) -> str:
        return self.config.require(keys.SUBSCRIPTION_ID)

    @cached_property
    def resource_group(self) -> str:
        return self.config.require(keys.RESOURCE_GROUP_NAME)

    @cached_property
    def job_name(self) -> str:
        return self.config.require(keys.ACA_JOB_NAME, purpose="for the fine-tuning job")

    @cached_property
    def app_name(self) -> str:
        return self.config.require(keys.ACA_APP_NAME, purpose="for the inference app")

    @property
    def mount_path(self) -> str:
        return self.config.get(keys.MOUNT_PATH) or keys.DEFAULT_MOUNT_PATH

    def job_label(self) -> str:
        return f"job '{self.job_name}' in resource group '{self.resource_group}'"

    def resource_id(self, provider: str, name: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{provider}/{name}"
        )

    def portal_url(self) -> str:
        job = self.resource_id("Microsoft.App/jobs", self.job_name)
        # The execution history blade lists every execution with its logs and exit state.
        return f"{PORTAL}/#@/resource{job}/executionHistory"

    @cached_property
    def apps(self) -> Any:
        """The azure-mgmt-appcontainers client (created on first use)."""
        return self.connection.container_apps(self.subscription)

    def get_job(self) -> dict[str, Any]:
        with azure_call(self.job_label(), role=JOB_ROLE):
            return self.apps.jobs.get(self.resource_group, self.job_name).as_dict()

    def close(self) -> None:
        """Drop the ARM client; the next call makes a new one."""
        apps = self.__dict__.pop("apps", None)
        if apps is not None and hasattr(apps, "close"):
            apps.close()
