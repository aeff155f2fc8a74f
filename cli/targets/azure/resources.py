"""`AzureDeployment`: one deployment's output values, its connection, and where it lives in ARM.

Its values come from a `TargetConfig` (a stack's outputs or the AI Toolkit's files), read on first
use: a stack's secret verbs need only the stack's config, so they work before the first `pulumi up`.
A target adds the names and clients of what runs its work (`cli.targets.aca.resources.Deployment`:
the Container Apps job and app).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from cli.targets.azure.clients import AzureConnection
from cli.targets.azure.config import TargetConfig
from contract import outputs as keys


class AzureDeployment:
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

    def resource_id(self, provider: str, name: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{provider}/{name}"
        )

    def close(self) -> None:
        """Drop the clients this object made; the next call makes new ones (none here)."""
