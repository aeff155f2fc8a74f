"""The ARM reads `ftk doctor` makes, through the real Azure SDK clients of one `AzureConnection`.

Typed SDK operations where a package provides them, `send_request` through the same ARM
pipeline (credential, retries, endpoint) where none does. Sources (Azure/azure-rest-api-specs,
read 2026-12-01, under specification/); the api-versions are those the installed SDKs send
(azure-mgmt-appcontainers 5.1: 2026-07-01; azure-mgmt-resource: 2025-04-01;
azure-mgmt-authorization 4.0: 2022-04-01; azure-mgmt-storage 25.3: 2026-09-01, whose spec
folder was not read: the operation's shape is that of 2024-01-01):

- subscription: Subscriptions_Get, resources/resource-manager/Microsoft.Resources/stable/
  2022-12-01/subscriptions.json (api-version 2022-12-01, sent with `send_request`);
- providers: Providers_Get, resources/.../Microsoft.Resources/stable/2025-04-01/resources.json
  (azure-mgmt-resource's `providers.get`);
- GPU profile in a region: AvailableWorkloadProfiles_Get, app/resource-manager/Microsoft.App/
  ContainerApps/stable/2026-07-01 (vendored: testkit/fakes/specs);
- quota: Usages_List (the subscription's, in a region) and ManagedEnvironmentUsages_List (an
  environment's), same version (azure-mgmt-appcontainers' `usages`, `managed_environment_usages`);
- permissions: Permissions_ListForResourceGroup, authorization/resource-manager/
  Microsoft.Authorization/stable/2022-04-01/authorization-RoleDefinitionsCalls.json;
- storage names: StorageAccounts_CheckNameAvailability, storage/resource-manager/
  Microsoft.Storage/stable/2024-01-01/storage.json.

Every SDK import is inside a method; the only import of the connection type is below, so moving
`cli.targets.azure.clients` is a one-line change here.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cli.targets.azure.clients import AzureConnection

SUBSCRIPTION_API = "2022-12-01"


@dataclass(frozen=True)
class Usage:
    name: str  # name.value, e.g. ManagedEnvironmentConsumptionNCA100Gpus
    label: str  # name.localizedValue
    current: float
    limit: float


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT access token, for display only (not verified: ARM verifies it)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


class ArmReader:
    """Read-only ARM calls for one subscription."""

    def __init__(self, connection: AzureConnection, subscription: str):
        self.connection = connection
        self.subscription = subscription

    @cached_property
    def apps(self) -> Any:
        return self.connection.container_apps(self.subscription)

    @cached_property
    def storage(self) -> Any:
        return self.connection.storage_mgmt(self.subscription)

    @cached_property
    def resources(self) -> Any:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return self.connection.arm_client(ResourceManagementClient, self.subscription)

    @cached_property
    def authorization(self) -> Any:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return self.connection.arm_client(AuthorizationManagementClient, self.subscription)

    # -- identity -------------------------------------------------------------------------

    def claims(self) -> dict[str, Any]:
        """Who the credential signs in as: a token for ARM, decoded (raises if no login)."""
        token = self.connection.credential().get_token("https://management.azure.com/.default")
        return token_claims(token.token)

    def subscription_info(self) -> dict[str, Any]:
        """Subscriptions_Get: displayName, state (Enabled, Disabled, ...), tenantId."""
        from azure.core.rest import HttpRequest

        request = HttpRequest(
            "GET", f"/subscriptions/{self.subscription}", params={"api-version": SUBSCRIPTION_API}
        )
        response = self.resources.send_request(request)
        response.raise_for_status()
        return dict(response.json())

    # -- region -----------------------------------------------------------------------------

    def provider_state(self, namespace: str) -> str:
        """Providers_Get: registrationState (Registered, NotRegistered, Registering, ...)."""
        return str(self.resources.providers.get(namespace).registration_state or "Unknown")

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

    # -- resource group ---------------------------------------------------------------------

    def resource_group_exists(self, name: str) -> bool:
        return bool(self.resources.resource_groups.check_existence(name))

    def permissions(self, resource_group: str) -> list[tuple[list[str], list[str]]]:
        """Permissions_ListForResourceGroup: (actions, notActions) of each of the caller's roles."""
        pages = self.authorization.permissions.list_for_resource_group(resource_group)
        return [(list(p.actions or []), list(p.not_actions or [])) for p in pages]

    def environment_exists(self, resource_group: str, name: str) -> bool:
        return self._exists(lambda: self.apps.managed_environments.get(resource_group, name))

    def job_exists(self, resource_group: str, name: str) -> bool:
        return self._exists(lambda: self.apps.jobs.get(resource_group, name))

    def app_exists(self, resource_group: str, name: str) -> bool:
        return self._exists(lambda: self.apps.container_apps.get(resource_group, name))

    def storage_account_exists(self, resource_group: str, name: str) -> bool:
        return self._exists(
            lambda: self.storage.storage_accounts.get_properties(resource_group, name)
        )

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

    def storage_name(self, name: str) -> tuple[bool, str | None, str | None]:
        """StorageAccounts_CheckNameAvailability: (available, reason, message)."""
        from azure.mgmt.storage.models import StorageAccountCheckNameAvailabilityParameters

        result = self.storage.storage_accounts.check_name_availability(
            StorageAccountCheckNameAvailabilityParameters(
                name=name, type="Microsoft.Storage/storageAccounts"
            )
        )
        return bool(result.name_available), result.reason, result.message

    @staticmethod
    def _exists(call: Any) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            call()
        except ResourceNotFoundError:
            return False
        return True


def _usage(u: Any) -> Usage:
    name = getattr(u, "name", None)
    return Usage(
        name=str(getattr(name, "value", "") or ""),
        label=str(getattr(name, "localized_value", "") or getattr(name, "value", "") or ""),
        current=float(u.current_value or 0),
        limit=float(u.limit or 0),
    )
