"""Pulumi mocks for the stack tests: they record every resource and invoke, and fake Azure.

No Pulumi CLI, no provider binary, no network: `set_mocks` answers every resource and invoke.
Key material returned by the fake Azure carries SENTINEL markers so tests can prove it never
leaks into a plain output.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

from stacks.outputs import stack_outputs
from stacks.program import Stack, build
from stacks.reader import load_settings

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
STORAGE_KEY = "storage-key-SENTINEL"
LOG_KEY = "log-shared-key-SENTINEL"
API_KEY = "api-key-SENTINEL"
CUSTOMER_ID = "cccccccc-0000-0000-0000-000000000000"
EXISTING_RG_LOCATION = "northeurope"
PULL_PRINCIPAL = "pppppppp-0000-0000-0000-000000000000"
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
        self.role_created_on: str | None = None  # a RoleAssignment's `createdOn`, as ARM sets it
        self.monitor = MockMonitor(self)

    def urn(self, r: pulumi.runtime.MockResourceArgs) -> str:
        """The URN `r` was registered under (it names the parent component, if any)."""
        tail = f"{r.typ}::{r.name}"
        urns = [u for u in self.monitor.get_registered_resources() if u.endswith(tail)]
        return urns[0] if len(urns) == 1 else tail

    def invoked(self, token: str) -> list[dict[str, Any]]:
        """The args of every invoke of `token`."""
        return [c.args for c in self.calls if c.token == token]

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
            "azure-native:containerregistry:Registry": "registryName",
            "azure-native:managedidentity:UserAssignedIdentity": "resourceName",
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
        if isinstance(out.get("identity"), dict) and "userAssignedIdentities" in out["identity"]:
            # Sent as a list of ids; ARM answers with a map id -> {principalId, clientId}.
            ids = out["identity"]["userAssignedIdentities"]
            out["identity"] = {
                **out["identity"],
                "userAssignedIdentities": {i: {"principalId": PULL_PRINCIPAL} for i in ids},
            }
        if args.typ == "azure-native:containerregistry:Registry":
            out["loginServer"] = f"{out['name']}.azurecr.io"  # as the ARM API computes it
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            out["principalId"] = PULL_PRINCIPAL
            out["clientId"] = "client-of-the-pull-identity"
        if args.typ == "azure-native:authorization:RoleAssignment" and self.role_created_on:
            out["createdOn"] = self.role_created_on
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
    secret_keys = [f"ftk:{k}" for k in secrets or {}]
    # As the language host does: the whole config as JSON in PULUMI_CONFIG (the pulumi_mocks
    # fixture restores the variable after each test), plus the runtime's config map.
    os.environ["PULUMI_CONFIG"] = json.dumps(values)
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(secret_keys)
    pulumi.runtime.set_all_config(values, secret_keys=secret_keys)


def build_stack(config: dict[str, Any] | None = None, **kwargs: Any) -> Stack:
    """Set the stack's config, load the settings and build the program, as `__main__` does."""
    set_stack_config(config or {}, **kwargs)
    return build(load_settings())


@dataclass
class Run:
    """One program run under mocks: what `build` returned and every output, awaited."""

    stack: Stack
    outputs: dict[str, tuple[Any, bool]]  # key -> (value, is_secret)

    def value(self, key: str) -> Any:
        return self.outputs[key][0]


def run_program(config: dict[str, Any] | None = None, **kwargs: Any) -> Run:
    """Run the program under the current mocks; returns once every resource is registered."""
    box: dict[str, Run] = {}

    @pulumi.runtime.test
    async def program() -> None:
        stack = build_stack(config, **kwargs)
        box["run"] = Run(stack, await resolved_outputs(stack))

    program()
    return box["run"]


async def resolved_outputs(stack: Stack) -> dict[str, tuple[Any, bool]]:
    """Every stack output as (value, is_secret), awaited."""
    result = {}
    for key, value in stack_outputs(stack).items():
        out = pulumi.Output.from_input(value)
        result[key] = (await out.future(), await out.is_secret())
    return result
