"""`ftk secret`: job secrets by env var name. Values come from a callback, never an argument."""

from __future__ import annotations

import re
from collections.abc import Callable

from cli.errors import UsageError
from cli.targets.base import Target

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*[A-Za-z0-9]$")


def check_name(name: str) -> str:
    if not NAME.match(name) or len(name) > 200:
        raise UsageError(
            f"invalid secret name {name!r}",
            hint="use an environment variable name such as HF_TOKEN (letters, digits, '_')",
        )
    return name


def aca_secret_name(name: str) -> str:
    """The ACA secret backing env var `name`: `HF_TOKEN` -> `hf-token`."""
    return check_name(name).lower().replace("_", "-")


def _check_apply(target: Target, apply: bool) -> None:
    if apply and target.kind != "stack":
        raise UsageError(
            f"--apply is for a Pulumi stack target; the {target.kind} target applies secrets "
            "as it sets them"
        )


def set_secret(
    target: Target, name: str, read_value: Callable[[], str], *, apply: bool = False
) -> str:
    """Store a job secret; `read_value` is asked only when the target stores values."""
    check_name(name)
    _check_apply(target, apply)
    if not getattr(target, "stores_secrets", True):
        return target.set_secret(name, "")
    value = read_value()
    if not value or not value.strip():
        raise UsageError(f"empty value for {name}; nothing was stored")
    value = value.strip("\r\n")
    return target.set_secret(name, value, apply=True) if apply else target.set_secret(name, value)


def remove_secret(target: Target, name: str, *, apply: bool = False) -> str:
    check_name(name)
    _check_apply(target, apply)
    return target.remove_secret(name, apply=True) if apply else target.remove_secret(name)
