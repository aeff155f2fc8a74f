"""The Container Apps reads `ftk doctor` makes, on top of the Azure-generic ones
(`cli.targets.azure.arm.ArmReader`: identity, subscription, providers, resource group,
permissions, storage).

Sources (Azure/azure-rest-api-specs, read 2026-12-01, under specification/app/resource-manager/
Microsoft.App/ContainerApps/stable/2026-07-01, vendored: testkit/fakes/specs; the api-version
azure-mgmt-appcontainers 5.1 sends):

- GPU profile in a region: AvailableWorkloadProfiles_Get;
- quota: Usages_List (the subscription's, in a region) and ManagedEnvironmentUsages_List (an
  environment's) (azure-mgmt-appcontainers' `usages`, `managed_environment_usages`);
- existence and placement: ManagedEnvironments_Get, Jobs_Get, ContainerApps_Get.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cli.targets.aca.resources import container_apps
from cli.targets.azure.arm import ArmReader


@dataclass(frozen=True)
class Usage:
    name: str  # name.value, e.g. ManagedEnvironmentConsumptionNCA100Gpus
    label: str  # name.localizedValue
    current: float
    limit: float


class ContainerAppsReader(ArmReader):
    """Read-only ARM calls for one subscription, Container Apps' included."""

    @cached_property
    def apps(self) -> Any:
        return container_apps(self.connection, self.subscription)

    # -- region -----------------------------------------------------------------------------

    def workload_profile_types(self, location: str) -> list[str]:
        """AvailableWorkloadProfiles_Get: the workload profile types the region offers."""
        return [str(p.name) for p in self.apps.available_workload_profiles.get(location)]

    def region_usages(self, location: str) -> list[Usage]:
        """Usages_List: the subscription's quotas in the region (current vs limit)."""
        return [_usage(u) for u in self.apps.usages.list(location)]

    def environment_usages(self, resource_group: str, environment: str) -> list[Usage]:
        """ManagedEnvironmentUsages_List: the environment's quotas (serverless GPUs live here)."""
        pages = self.apps.managed_environment_usages.list(resource_group, environment)
        return [_usage(u) for u in pages]

    # -- resources --------------------------------------------------------------------------

    def environment_exists(self, resource_group: str, name: str) -> bool:
        return self._exists(lambda: self.apps.managed_environments.get(resource_group, name))

    def job_exists(self, resource_group: str, name: str) -> bool:
        return self._exists(lambda: self.apps.jobs.get(resource_group, name))

    def app_exists(self, resource_group: str, name: str) -> bool:
        return self._exists(lambda: self.apps.container_apps.get(resource_group, name))

    def job_placement(self, resource_group: str, name: str) -> tuple[str, str | None, str | None]:
        """(region, environment, workload profile type) of a job (Jobs_Get, then
        ManagedEnvironments_Get for its environment's profiles): what --infra files leave out."""
        job = self.apps.jobs.get(resource_group, name)
        env_id = getattr(job, "environment_id", None) or ""
        if "/managedEnvironments/" not in env_id:
            return str(job.location), None, None
        parts = env_id.split("/")
        env_group, env_name = parts[parts.index("resourceGroups") + 1], parts[-1]
        env = self.apps.managed_environments.get(env_group, env_name)
        wanted = getattr(job, "workload_profile_name", None)
        for profile in getattr(env, "workload_profiles", None) or []:
            if profile.name == wanted:
                return str(job.location), env_name, str(profile.workload_profile_type)
        return str(job.location), env_name, None

    def job_timeout(self, resource_group: str, name: str) -> int | None:
        """The job's replica timeout in seconds (Jobs_Get), for an --infra target."""
        job = self.apps.jobs.get(resource_group, name)
        configuration = getattr(job, "configuration", None)
        timeout = getattr(configuration, "replica_timeout", None)
        return int(timeout) if timeout else None


def _usage(u: Any) -> Usage:
    name = getattr(u, "name", None)
    return Usage(
        name=str(getattr(name, "value", "") or ""),
        label=str(getattr(name, "localized_value", "") or getattr(name, "value", "") or ""),
        current=float(u.current_value or 0),
        limit=float(u.limit or 0),
    )
