"""The ARM reads `ftk doctor` makes, in the shapes of the official specs' examples.

Sources (Azure/azure-rest-api-specs, read 2026-12-01):
- Microsoft.App `Usages_List` / `ManagedEnvironmentUsages_List`:
  specification/app/resource-manager/Microsoft.App/ContainerApps/stable/2025-01-01/Usages.json,
  examples ManagedEnvironmentUsages_List.json and (preview/2025-02-02-preview) Usages_List.json.
  GPU usage names follow MicrosoftDocs/azure-docs articles/container-apps/quotas.md (2025-04-29):
  the examples show none.
- `AvailableWorkloadProfiles_Get`: .../stable/2025-01-01/examples/AvailableWorkloadProfiles_Get.json
- `Providers_Get`: specification/resources/resource-manager/Microsoft.Resources/stable/2025-04-01/
  examples/GetProvider.json
- `Permissions_ListForResourceGroup`: specification/authorization/resource-manager/
  Microsoft.Authorization/stable/2022-04-01/authorization-RoleDefinitionsCalls.json
- `StorageAccounts_CheckNameAvailability`: specification/storage/resource-manager/
  Microsoft.Storage/stable/2024-01-01/examples/StorageAccountCheckNameAvailability.json
- `Subscriptions_Get`: specification/resources/resource-manager/Microsoft.Resources/stable/
  2022-12-01/subscriptions.json: displayName, state, tenantId.

Knobs a test turns: which profiles a region offers, GPU quota, provider states, permissions,
names taken, and per-operation refusals (403) and throttling (429 + Retry-After).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from testkit.fakes.http import Request, Response

# Contributor's definition (MicrosoftDocs/azure-docs articles/role-based-access-control/
# built-in-roles.md, ms.date 08/07/2023): everything but writing or deleting authorization (role
# assignments) and elevating access; its Blueprint and gallery-sharing NotActions are left out.
CONTRIBUTOR = {
    "actions": ["*"],
    "notActions": [
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
    ],
    "dataActions": [],
    "notDataActions": [],
}
OWNER = {"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}
READER = {"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}
GPU_TYPES = {
    "Consumption-GPU-NC24-A100": ("GPU-NC-A100", 24, 220, 1),
    "Consumption-GPU-NC8as-T4": ("GPU-NC-T4", 8, 56, 1),
    "NC24-A100": ("GPU-NC-A100", 24, 220, 1),
    "NC48-A100": ("GPU-NC-A100", 48, 440, 2),
    "NC96-A100": ("GPU-NC-A100", 96, 880, 4),
}
# name.value -> (localizedValue, scope): "region" from Usages_List, "environment" from
# ManagedEnvironmentUsages_List (quotas.md: the serverless GPU quotas are per environment). The
# display names are documented (MicrosoftDocs/azure-docs articles/container-apps/: quotas.md;
# workload-profiles-overview.md, ms.date 11/05/2024, "Quota name" column; quota-requests.md,
# ms.date 04/29/2025); the values are not, so the fake's are the display names without spaces.
USAGE_NAMES = {
    "ManagedEnvironmentCount": ("Managed Environment Count", "region"),
    "SubscriptionNCA100GPUs": ("Subscription NCA 100 GPUs", "region"),
    "SubscriptionConsumptionNCA100Gpus": ("Subscription Consumption NCA 100 Gpus", "region"),
    "SubscriptionConsumptionT4Gpus": ("Subscription Consumption T 4 Gpus", "region"),
    "ManagedEnvironmentConsumptionCores": ("Managed Environment Consumption Cores", "environment"),
    "ManagedEnvironmentConsumptionNCA100Gpus": (
        "Managed Environment Consumption NCA100 Gpus",
        "environment",
    ),
    "ManagedEnvironmentConsumptionT4Gpus": (
        "Managed Environment Consumption T4 Gpus",
        "environment",
    ),
}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json(status, {"error": {"code": code, "message": message}}, headers)


@dataclass
class DoctorArm:
    """What one subscription looks like to `ftk doctor`."""

    sub: str
    rg: str
    environment: str
    account: str
    region: str = "swedencentral"
    tenant: str = "72f988bf-0000-4000-8000-000000000000"
    offered: dict[str, list[str]] = field(
        default_factory=lambda: {
            "swedencentral": [
                "Consumption",
                "Consumption-GPU-NC24-A100",
                "Consumption-GPU-NC8as-T4",
            ],
            "westeurope": ["Consumption", "Consumption-GPU-NC8as-T4"],
            "northeurope": ["Consumption", "NC24-A100", "NC48-A100"],
        }
    )
    usages: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {
            "ManagedEnvironmentCount": (1, 15),
            "SubscriptionNCA100GPUs": (0, 4),
            "SubscriptionConsumptionNCA100Gpus": (0, 10),
            "SubscriptionConsumptionT4Gpus": (0, 10),
            "ManagedEnvironmentConsumptionCores": (0, 100),
            "ManagedEnvironmentConsumptionNCA100Gpus": (0, 4),
            "ManagedEnvironmentConsumptionT4Gpus": (0, 4),
        }
    )
    providers: dict[str, str] = field(
        default_factory=lambda: {
            "Microsoft.App": "Registered",
            "Microsoft.OperationalInsights": "Registered",
            "Microsoft.Storage": "Registered",
            "Microsoft.ContainerRegistry": "Registered",
            "Microsoft.ManagedIdentity": "Registered",
        }
    )
    permissions: list[dict[str, Any]] = field(default_factory=lambda: [dict(CONTRIBUTOR)])
    taken_names: set[str] = field(default_factory=lambda: {"ftkstore"})
    # the environment's workload profiles (ManagedEnvironments_Get), name -> type
    workload_profiles: dict[str, str] = field(
        default_factory=lambda: {"Consumption": "Consumption", "GPU": "Consumption-GPU-NC24-A100"}
    )
    resource_groups: set[str] = field(default_factory=set)
    environments: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    # operation fragment -> 403 (refused) / 429 count (throttled, then answered)
    refuse: set[str] = field(default_factory=set)
    throttle: dict[str, int] = field(default_factory=dict)
    retry_after: str = "1"
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.resource_groups.add(self.rg)
        self.environments.add(self.environment)
        self.accounts.add(self.account)

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, req: Request) -> Response | None:
        """Answer the doctor's reads; None for every other request (the main fake's)."""
        route = self._route(req)
        if route is None:
            return None
        name, answer = route
        self.calls.append(name)
        if any(fragment in req.path for fragment in self.refuse) or name in self.refuse:
            return _error(
                403,
                "AuthorizationFailed",
                f"The client does not have authorization to perform action over scope "
                f"'{req.path}' or the scope is invalid.",
            )
        if self.throttle.get(name, 0) > 0:
            self.throttle[name] -= 1
            return _error(
                429,
                "TooManyRequests",
                "The request is being throttled.",
                {"Retry-After": self.retry_after},
            )
        return answer()

    def _route(self, req: Request) -> tuple[str, Any] | None:
        sub = f"/subscriptions/{self.sub}"
        path = req.path.rstrip("/")
        if req.method == "GET" and path == sub:
            return "subscription", self._subscription
        found = re.fullmatch(rf"{sub}/providers/(Microsoft\.[A-Za-z]+)", path)
        if req.method == "GET" and found:
            return "providers", lambda: self._provider(found[1])
        found = re.fullmatch(rf"{sub}/providers/Microsoft\.App/locations/([^/]+)/(\w+)", path)
        if req.method == "GET" and found and found[2] == "usages":
            return "usages", lambda: self._usages(found[1], "region")
        if (
            req.method == "GET"
            and found
            and found[2] == ("availableManagedEnvironmentsWorkloadProfileTypes")
        ):
            return "workloadProfiles", lambda: self._profiles(found[1])
        if path == f"{sub}/providers/Microsoft.Storage/checkNameAvailability":
            return "checkNameAvailability", lambda: self._name(req)
        rg = re.fullmatch(rf"{sub}/resource[gG]roups/([^/]+)(/.*)?", path)
        if rg is None:
            return None
        group, rest = rg[1], rg[2] or ""
        if rest == "" and req.method == "HEAD":  # ResourceGroups_CheckExistence: 204 or 404
            return "resourceGroup", lambda: Response(204 if group in self.resource_groups else 404)
        if rest == "/providers/Microsoft.Authorization/permissions":
            return "permissions", lambda: self._permissions(group)
        found = re.fullmatch(
            r"/providers/Microsoft\.App/managedEnvironments/([^/]+)(/usages)?", rest
        )
        if found and req.method == "GET":
            if found[2]:
                return "environmentUsages", lambda: self._env_usages(found[1])
            return "environment", lambda: self._environment(found[1])
        found = re.fullmatch(r"/providers/Microsoft\.Storage/storageAccounts/([^/]+)", rest)
        if found and req.method == "GET":
            return "storageAccount", lambda: self._account(found[1])
        return None

    # -- answers ----------------------------------------------------------------------------

    def _subscription(self) -> Response:
        return Response.json(
            200,
            {
                "id": f"/subscriptions/{self.sub}",
                "subscriptionId": self.sub,
                "displayName": "ftk test subscription",
                "state": "Enabled",
                "tenantId": self.tenant,
            },
        )

    def _provider(self, namespace: str) -> Response:
        state = self.providers.get(namespace, "NotRegistered")
        return Response.json(
            200,
            {
                "id": f"/subscriptions/{self.sub}/providers/{namespace}",
                "namespace": namespace,
                "registrationState": state,
                "registrationPolicy": "RegistrationRequired",
                "resourceTypes": [],
            },
        )

    def _usage_json(self, scope: str) -> list[dict[str, Any]]:
        return [
            {
                "currentValue": current,
                "limit": limit,
                "name": {"localizedValue": USAGE_NAMES[name][0], "value": name},
                "unit": "Count",
            }
            for name, (current, limit) in self.usages.items()
            if USAGE_NAMES.get(name, ("", "region"))[1] == scope
        ]

    def _usages(self, location: str, scope: str) -> Response:
        return Response.json(200, {"value": self._usage_json(scope)})

    def _env_usages(self, environment: str) -> Response:
        if environment not in self.environments:
            return self._exists(False, environment)
        return Response.json(200, {"value": self._usage_json("environment")})

    def _profiles(self, location: str) -> Response:
        items = []
        for name in self.offered.get(location.replace(" ", "").lower(), ["Consumption"]):
            category, cores, memory, gpus = GPU_TYPES.get(name, ("Consumption", 4, 8, 0))
            properties: dict[str, Any] = {
                "displayName": name,
                "category": category,
                "applicability": "Custom",
                "cores": cores,
                "memoryGiB": memory,
            }
            if gpus:
                properties["gpus"] = gpus
            items.append(
                {
                    "location": location,
                    "properties": properties,
                    "id": f"/subscriptions/{self.sub}/providers/Microsoft.App/"
                    f"availableManagedEnvironmentsWorkloadProfileTypes/{name}",
                    "name": name,
                    "type": "Microsoft.App/availableManagedEnvironmentsWorkloadProfileTypes",
                }
            )
        return Response.json(200, {"value": items})

    def _permissions(self, group: str) -> Response:
        if group not in self.resource_groups:
            return _error(
                404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found."
            )
        return Response.json(200, {"value": self.permissions})

    def _name(self, req: Request) -> Response:
        body = req.json()
        name = str(body.get("name", ""))
        if body.get("type") != "Microsoft.Storage/storageAccounts":
            return _error(
                400, "InvalidRequestContent", "type must be Microsoft.Storage/storageAccounts"
            )
        if not re.fullmatch(r"[a-z0-9]{3,24}", name):
            return Response.json(
                200,
                {
                    "nameAvailable": False,
                    "reason": "AccountNameInvalid",
                    "message": f"{name} is not a valid storage account name.",
                },
            )
        if name in self.taken_names or name in self.accounts:
            return Response.json(
                200,
                {
                    "nameAvailable": False,
                    "reason": "AlreadyExists",
                    "message": f"The storage account named {name} is already taken.",
                },
            )
        return Response.json(200, {"nameAvailable": True})

    def _environment(self, name: str) -> Response:
        if name not in self.environments:
            return self._exists(False, name)
        profiles = [
            {"name": n, "workloadProfileType": t} for n, t in self.workload_profiles.items()
        ]
        return Response.json(
            200,
            {
                "id": f"/subscriptions/{self.sub}/resourceGroups/{self.rg}/providers/"
                f"Microsoft.App/managedEnvironments/{name}",
                "name": name,
                "type": "Microsoft.App/managedEnvironments",
                "location": self.region,
                "properties": {"provisioningState": "Succeeded", "workloadProfiles": profiles},
            },
        )

    def _account(self, name: str) -> Response:
        if name not in self.accounts:
            return self._exists(False, name)
        return Response.json(
            200,
            {
                "id": f"/subscriptions/{self.sub}/resourceGroups/{self.rg}/providers/"
                f"Microsoft.Storage/storageAccounts/{name}",
                "name": name,
                "type": "Microsoft.Storage/storageAccounts",
                "location": self.region,
                "kind": "StorageV2",
                "sku": {"name": "Standard_LRS", "tier": "Standard"},
                "properties": {"provisioningState": "Succeeded"},
            },
        )

    def _exists(self, exists: bool, name: str) -> Response:
        if exists:
            return Response.json(
                200, {"name": name, "properties": {"provisioningState": "Succeeded"}}
            )
        return _error(404, "ResourceNotFound", f"The Resource '{name}' was not found.")


def install(fake: Any, **overrides: Any) -> DoctorArm:
    """Serve the doctor's reads from `fake` (a running `FakeAzure`), for its deployment."""
    doctor = DoctorArm(
        sub=fake.SUBSCRIPTION,
        rg=fake.RESOURCE_GROUP,
        environment="ftk-dev-env",
        account=fake.ACCOUNT,
        **overrides,
    )
    fake.arm.extra = doctor.handle
    return doctor
