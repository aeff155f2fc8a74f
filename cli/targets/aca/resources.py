"""`Deployment`: an Azure deployment (`cli.targets.azure.resources`) with what the Container Apps
target's parts share: the job's and the app's names, the share's mount path in their containers,
and the azure-mgmt-appcontainers client.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from cli.targets.azure.clients import PORTAL, AzureConnection
from cli.targets.azure.errors import azure_call
from cli.targets.azure.resources import AzureDeployment
from contract import outputs as keys

if TYPE_CHECKING:
    from azure.mgmt.appcontainers import ContainerAppsAPIClient

JOB_ROLE = "Container Apps Jobs Operator (or Contributor)"


def container_apps(connection: AzureConnection, subscription_id: str) -> ContainerAppsAPIClient:
    """The azure-mgmt-appcontainers client for `subscription_id`, with the connection's ARM
    endpoint, retries and TLS settings."""
    from azure.mgmt.appcontainers import ContainerAppsAPIClient

    return connection.arm_client(ContainerAppsAPIClient, subscription_id)


class Deployment(AzureDeployment):
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

    def portal_url(self) -> str:
        job = self.resource_id("Microsoft.App/jobs", self.job_name)
        # The execution history blade lists every execution with its logs and exit state.
        return f"{PORTAL}/#@/resource{job}/executionHistory"

    @cached_property
    def apps(self) -> Any:
        """The azure-mgmt-appcontainers client (created on first use)."""
        return container_apps(self.connection, self.subscription)

    def get_job(self) -> dict[str, Any]:
        with azure_call(self.job_label(), role=JOB_ROLE):
            return self.apps.jobs.get(self.resource_group, self.job_name).as_dict()

    def close(self) -> None:
        """Drop the ARM client; the next call makes a new one."""
        apps = self.__dict__.pop("apps", None)
        if apps is not None and hasattr(apps, "close"):
            apps.close()
        super().close()
