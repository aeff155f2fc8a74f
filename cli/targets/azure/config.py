"""The resolved output-contract values of an Azure target, and where each one came from.

Both sources (a Pulumi stack's outputs, AI Toolkit config files) produce a `TargetConfig`; a
value the current verb needs but the source lacks is an error naming the key and the source.
Secret values (ACA_APP_API_KEY) live apart and never reach `public()`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cli.errors import NotFoundError, UsageError
from contract import outputs as keys


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class TargetConfig:
    origin: str  # "stack 'dev'" or "infra/finetuning.config.json, infra/inference.config.json"
    values: Mapping[str, Any]  # non-null, non-secret values
    sources: Mapping[str, str] = field(default_factory=dict)  # key -> file it came from
    nulls: Mapping[str, str] = field(default_factory=dict)  # key -> file where it is null
    secrets: Mapping[str, Any] = field(default_factory=dict, repr=False)
    from_stack: bool = False

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self.values.get(key)
        return default if value is None else _text(value)

    def raw(self, key: str) -> Any:
        return self.values.get(key)

    def require(self, key: str, *, purpose: str = "") -> str:
        value = self.values.get(key)
        if value is not None and value != "":
            return _text(value)
        why = f" (needed {purpose})" if purpose else ""
        if key in self.nulls:
            raise UsageError(
                f"{key} is null in {self.nulls[key]}{why}",
                hint="fill it in with the resource's name (the AI Toolkit writes it when it "
                "provisions), or use a Pulumi stack",
            )
        if self.from_stack:
            raise NotFoundError(
                f"{self.origin} has no output {key}{why}",
                hint="run `pulumi up` so the stack exports it",
            )
        raise UsageError(
            f"{key} is missing from {self.origin}{why}",
            hint="add it to the config file (AI Toolkit keys, see docs/azure.md)",
        )

    def secret(self, key: str) -> str | None:
        value = self.secrets.get(key)
        return None if value is None else str(value)

    def public(self) -> dict[str, str]:
        """Every resolved non-secret key, contract keys first, for `ftk outputs`."""
        ordered = [*keys.AI_TOOLKIT_KEYS, *keys.FTK_KEYS]
        shown = [k for k in ordered if k in self.values] + sorted(
            k for k in self.values if k not in ordered and k not in keys.SECRET_KEYS
        )
        return {k: _text(self.values[k]) for k in shown if self.values[k] is not None}
