"""Raw config strings of the project namespace turned into typed values, or one clear error.

`stacks.reader` uses one `ConfigReader` per program run; every rule message names the key.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import pulumi

from stacks.settings import KEYS, SettingsError


class ConfigReader:
    """Reads raw config strings and turns them into typed values, or one clear error."""

    def __init__(self, config: pulumi.Config) -> None:
        self.config = config

    def fail(self, key: str, value: object, rule: str) -> SettingsError:
        shown = value if isinstance(value, str) else json.dumps(value)
        return SettingsError(f"{self.config.full_key(key)} = {shown!r} is invalid: {rule}.")

    def raw(self, key: str) -> str | None:
        assert key in KEYS, key
        value = self.config.get(key)
        return None if value is None or value.strip() == "" else value.strip()

    def string(self, key: str, default: str | None = None, pattern: str = r"\S+") -> str | None:
        value = self.raw(key)
        if value is None:
            return default
        if not re.fullmatch(pattern, value):
            raise self.fail(key, value, "must not be empty nor contain spaces")
        return value

    def integer(self, key: str, default: int, lo: int, hi: int, unit: str = "") -> int:
        value = self.raw(key)
        if value is None:
            return default
        rule = f"must be a whole number{unit} from {lo} to {hi}"
        if not re.fullmatch(r"[+-]?\d+", value) or not lo <= int(value) <= hi:
            raise self.fail(key, value, rule)
        return int(value)

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if value.lower() not in ("true", "false"):
            raise self.fail(key, value, "must be true or false")
        return value.lower() == "true"

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.raw(key) or default
        if value not in allowed:
            near = difflib.get_close_matches(value, allowed, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise self.fail(key, value, f"must be one of {', '.join(allowed)}{hint}")
        return value

    def json_value(self, key: str) -> Any:
        value = self.raw(key)
        if value is None:
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            # A plain string where an object was expected; the caller's rule explains.
            return value
