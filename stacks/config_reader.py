"""The stack's `pulumi.Config` read through the one reader of config keys.

`contract.stack_config` holds every key's kind, default and rule, and `StackConfig` reads by them;
`ftk doctor` uses the same reader on a stack's config. Here it only learns where the raw strings
come from and which error Pulumi shows without a traceback.
"""

from __future__ import annotations

import pulumi

from contract.stack_config import StackConfig
from stacks.settings import SettingsError


class ConfigReader(StackConfig):
    """Reads raw config strings and turns them into typed values, or one `SettingsError`."""

    def __init__(self, config: pulumi.Config) -> None:
        super().__init__(config.get, config.full_key, SettingsError)
        self.config = config
