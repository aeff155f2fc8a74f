"""Local job secrets: names only. A local execution inherits the user's environment, so
`ftk secret set` records the *name* (in `.ftk/local/secret-names.json`) and never the value; `ftk
run` warns about recorded names that are not set in the shell (`unavailable()`).
"""

from __future__ import annotations

import os
from pathlib import Path

from cli.errors import NotFoundError
from cli.targets.local.supervisor import read_json, write_json


class LocalSecretStore:
    """The `SecretStore` of the local target (names only, `stores_values` is False)."""

    stores_values = False
    can_apply = False

    def __init__(self, path: Path):
        self.path = path

    def names(self) -> list[str]:
        data = read_json(self.path) or {}
        return sorted(data.get("names", []))

    def _save(self, names: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json(self.path, {"names": sorted(set(names))})

    def set(self, name: str, value: str, *, apply: bool = False) -> str:
        """Records the name only; the value is never stored (local runs read the environment)."""
        self._save([*self.names(), name])
        state = "is set" if os.environ.get(name) else "is NOT set"
        return (
            f"local runs read {name} from your environment (it {state} in this shell); "
            f"ftk stores no secret values locally. Export it before `ftk --local run`."
        )

    def remove(self, name: str, *, apply: bool = False) -> str:
        names = self.names()
        if name not in names:
            raise NotFoundError(f"no local secret named {name}", hint="see `ftk secret list`")
        self._save([n for n in names if n != name])
        return f"{name} is no longer expected by local runs"

    def unavailable(self) -> list[str]:
        """Recorded names the next execution will not see: not set in this environment."""
        return [name for name in self.names() if not os.environ.get(name)]
