"""TEMPORARY: the pre-issue-9 `LocalTarget` (cli/targets/local.py) seen through today's `Target`
protocol, until the targets-local branch (cli/targets/local/, which implements the protocol
itself) lands. Delete this module and its import in `cli/targets/__init__.py` then.

It changes the class only while it still has the old `list_secrets` member, so a `LocalTarget`
that implements the protocol itself is left as it is.
"""

from __future__ import annotations

import os
from typing import Any

from cli.targets.base import Capabilities
from cli.targets.local import LocalTarget


class _NamesOnly:
    """Local secrets: names recorded, values read from the user's shell at `ftk run`."""

    stores_values = False
    can_apply = False

    def __init__(self, target: Any):
        self._target = target

    def names(self) -> list[str]:
        return list(self._target.list_secrets())

    def set(self, name: str, value: str, *, apply: bool = False) -> str:
        return str(self._target.set_secret(name, value))

    def remove(self, name: str, *, apply: bool = False) -> str:
        return str(self._target.remove_secret(name))

    def unavailable(self) -> list[str]:
        return [n for n in self.names() if not os.environ.get(n)]


def _stop_endpoint(self: Any) -> bool:
    return bool(self._stop_server())


def _close(self: Any) -> None:
    for child in self._children.values():
        child.poll()  # reap the ones that ended; running ones are detached on purpose


if "list_secrets" in vars(LocalTarget):
    LocalTarget.capabilities = Capabilities(log_history=True, stop_endpoint=True)  # type: ignore[attr-defined]
    LocalTarget.secrets = property(_NamesOnly)  # type: ignore[attr-defined]
    LocalTarget.stop_endpoint = _stop_endpoint  # type: ignore[assignment,method-assign]
    LocalTarget.close = _close  # type: ignore[attr-defined]
