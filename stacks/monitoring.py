"""The Log Analytics workspace the environment sends app logs to (created or existing)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.operationalinsights as insights

from stacks.component import FtkComponent


@dataclass(frozen=True)
class MonitoringArgs:
    """What the monitoring component needs from the stack."""

    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    workspace_name: str
    existing: bool
    retention_days: int
    tags: Mapping[str, str]


class Monitoring(FtkComponent):
    """A PerGB2018 workspace; `customer_id` is the id log queries take, `shared_key` is secret."""

    workspace_name: pulumi.Output[str]
    customer_id: pulumi.Output[str]
    shared_key: pulumi.Output[str]  # secret

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("Monitoring", name, opts)
        rg = args.resource_group_name
        if args.existing:
            found = insights.get_workspace_output(
                workspace_name=args.workspace_name, resource_group_name=rg
            )
            self.workspace_name, self.customer_id = found.name, found.customer_id
        else:
            workspace = insights.Workspace(
                f"{name}-workspace",
                workspace_name=args.workspace_name,
                resource_group_name=rg,
                location=args.location,
                sku=insights.WorkspaceSkuArgs(name=insights.WorkspaceSkuNameEnum.PER_GB2018),
                retention_in_days=args.retention_days,
                tags=dict(args.tags),
                opts=self._child(),
            )
            self.workspace_name, self.customer_id = workspace.name, workspace.customer_id
        keys = insights.get_shared_keys_output(
            workspace_name=self.workspace_name, resource_group_name=rg
        )
        self.shared_key = pulumi.Output.secret(keys.primary_shared_key.apply(lambda k: k or ""))
        self.register_outputs(
            {
                "workspace_name": self.workspace_name,
                "customer_id": self.customer_id,
                "shared_key": self.shared_key,
            }
        )
