"""Pulumi mocks for the stack tests: fresh per test, recording every resource and invoke.

No Pulumi CLI, no provider binary, no network: `set_mocks` answers every resource and invoke.
Key material returned by the fake Azure carries SENTINEL markers so tests can prove it never
leaks into a plain output.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
STORAGE_KEY = "storage-key-SENTINEL"
LOG_KEY = "log-shared-key-SENTINEL"
API_KEY = "api-key-SENTINEL"
CUSTOMER_ID = "cccccccc-0000-0000-0000-000000000000"
EXISTING_RG_LOCATION = "northeurope"
# How the Pulumi wire format marks a secret value inside resource inputs.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def is_secret_value(value: Any) -> bool:
    """Whether `value` (one recorded input) arrived wrapped as a Pulumi secret."""
    return isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG


def reveal(value: Any) -> Any:
    """`value` with every secret wrapper removed, to assert on what Azure would receive."""
    if is_secret_value(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    """Echoes inputs as outputs, adds what Azure would compute, and records everything."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        out = dict(args.inputs)
        name_input = {
            "azure-native:resources:ResourceGroup": "resourceGroupName",
            "azure-native:storage:StorageAccount": "accountName",
            "azure-native:storage:FileShare": "shareName",
            "azure-native:operationalinsights:Workspace": "workspaceName",
            "azure-native:app:ManagedEnvironment": "environmentName",
            "azure-native:app:ManagedEnvironmentsStorage": "storageName",
            "azure-native:app:Job": "jobName",
            "azure-native:app:ContainerApp": "containerAppName",
        }.get(args.typ)
        if name_input:
            out["name"] = args.inputs.get(name_input, args.name)
        if args.typ == "azure-native:operationalinsights:Workspace":
            out["customerId"] = CUSTOMER_ID
        if args.typ == "azure-native:app:ManagedEnvironment":
            out["defaultDomain"] = "happy-sky-123.swedencentral.azurecontainerapps.io"
        if args.typ == "azure-native:app:ContainerApp":
            fqdn = f"{out['name']}.happy-sky-123.swedencentral.azurecontainerapps.io"
            config = dict(reveal(out.get("configuration")) or {})
            config["ingress"] = {**config.get("ingress", {}), "fqdn": fqdn}
            out["configuration"] = config
        if args.typ == "random:index/randomPassword:RandomPassword":
            out["result"] = API_KEY
        return f"/subscriptions/{SUBSCRIPTION}/fake/{args.name}", out

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list]:
        self.calls.append(args)
        a = args.args
        answers: dict[str, dict[str, Any]] = {
            "azure-native:authorization:getClientConfig": {
                "subscriptionId": SUBSCRIPTION,
                "tenantId": "tenant",
                "clientId": "client",
                "objectId": "object",
            },
            "azure-native:resources:getResourceGroup": {
                "name": a.get("resourceGroupName"),
                "location": EXISTING_RG_LOCATION,
                "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{a.get('resourceGroupName')}",
            },
            "azure-native:storage:listStorageAccountKeys": {
                "keys": [{"keyName": "key1", "value": STORAGE_KEY, "permissions": "FULL"}]
            },
            "azure-native:storage:getStorageAccount": {"name": a.get("accountName")},
            "azure-native:storage:getFileShare": {"name": a.get("shareName")},
            "azure-native:operationalinsights:getSharedKeys": {"primarySharedKey": LOG_KEY},
            "azure-native:operationalinsights:getWorkspace": {
                "name": a.get("workspaceName"),
                "customerId": CUSTOMER_ID,
            },
            "azure-native:app:getManagedEnvironment": {
                "id": f"/subscriptions/{SUBSCRIPTION}/envs/{a.get('environmentName')}",
                "name": a.get("environmentName"),
                "defaultDomain": "existing.azurecontainerapps.io",
                "workloadProfiles": [
                    {"name": "Consumption", "workloadProfileType": "Consumption"},
                    {"name": "GPU", "workloadProfileType": "Consumption-GPU-NC24-A100"},
                ],
                "appLogsConfiguration": {
                    "destination": "log-analytics",
                    "logAnalyticsConfiguration": {"customerId": CUSTOMER_ID},
                },
            },
            "azure-native:app:getManagedEnvironmentsStorage": {"name": a.get("storageName")},
        }
        return answers.get(args.token, {}), []

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        """Recorded resources with type token `typ`."""
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str) -> pulumi.runtime.MockResourceArgs:
        """The single recorded resource of type `typ`."""
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, got {[r.name for r in found]}"
        return found[0]


@pytest.fixture
def pulumi_mocks() -> RecordingMocks:
    """Fresh mocks for this test (project ftk, stack dev)."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="ftk", stack="dev", preview=False)
    return mocks


def set_stack_config(
    config: dict[str, Any],
    *,
    location: str | None = "swedencentral",
    secrets: dict[str, Any] | None = None,
) -> None:
    """Replace the stack's config: `config` keys are project keys (`gpuProfile`), values typed."""

    def text(v: Any) -> str:
        if isinstance(v, str):
            return v
        return json.dumps(v)

    values = {f"ftk:{k}": text(v) for k, v in config.items()}
    values.update({f"ftk:{k}": text(v) for k, v in (secrets or {}).items()})
    if location is not None:
        values["azure-native:location"] = location
    pulumi.runtime.set_all_config(values, secret_keys=[f"ftk:{k}" for k in secrets or {}])
