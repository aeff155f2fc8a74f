"""Read-only ARM calls any Azure target's checks make, through the real Azure SDK clients of one
`AzureConnection`: who signs in, the subscription, resource providers, a resource group and the
caller's permissions on it, storage accounts and their names.

Typed SDK operations where a package provides them, `send_request` through the same ARM
pipeline (credential, retries, endpoint) where none does. Sources (Azure/azure-rest-api-specs,
read 2026-12-01, under specification/); the api-versions are those the installed SDKs send
(azure-mgmt-resource: 2025-04-01; azure-mgmt-authorization 4.0: 2022-04-01; azure-mgmt-storage
25.3: 2026-09-01, whose spec folder was not read: the operation's shape is that of 2024-01-01):

- subscription: Subscriptions_Get, resources/resource-manager/Microsoft.Resources/stable/
  2022-12-01/subscriptions.json (api-version 2022-12-01, sent with `send_request`);
- providers: Providers_Get, resources/.../Microsoft.Resources/stable/2025-04-01/resources.json
  (azure-mgmt-resource's `providers.get`);
- permissions: Permissions_ListForResourceGroup, authorization/resource-manager/
  Microsoft.Authorization/stable/2022-04-01/authorization-RoleDefinitionsCalls.json;
- storage names: StorageAccounts_CheckNameAvailability, storage/resource-manager/
  Microsoft.Storage/stable/2024-01-01/storage.json.

A target adds the reads of its own service (`cli.targets.aca.doctor.arm`: Container Apps).
Every SDK import is inside a method.
"""

from __future__ import annotations

import base64
import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cli.targets.azure.clients import AzureConnection

SUBSCRIPTION_API = "2022-12-01"


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

    def provider_state(self, namespace: str) -> str:
        """Providers_Get: registrationState (Registered, NotRegistered, Registering, ...)."""
        return str(self.resources.providers.get(namespace).registration_state or "Unknown")

    # -- resource group ---------------------------------------------------------------------

    def resource_group_exists(self, name: str) -> bool:
        return bool(self.resources.resource_groups.check_existence(name))

    def permissions(self, resource_group: str) -> list[tuple[list[str], list[str]]]:
        """Permissions_ListForResourceGroup: (actions, notActions) of each of the caller's roles."""
        pages = self.authorization.permissions.list_for_resource_group(resource_group)
        return [(list(p.actions or []), list(p.not_actions or [])) for p in pages]

    def storage_account_exists(self, resource_group: str, name: str) -> bool:
        return self._exists(
            lambda: self.storage.storage_accounts.get_properties(resource_group, name)
        )

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
