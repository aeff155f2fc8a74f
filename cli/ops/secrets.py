"""`ftk secret`: job secrets by env var name. Values come from a callback, never an argument."""

from __future__ import annotations

from collections.abc import Callable

from cli.errors import UsageError
from cli.targets.base import Target
from contract.secrets import RULE, is_valid_secret_name


def check_name(name: str) -> str:
    """The name, if it follows the one rule the stack also enforces (contract.secrets)."""
    if not is_valid_secret_name(name):
        upper = name.upper()
        hint = f"did you mean {upper}? " if is_valid_secret_name(upper) else ""
        raise UsageError(f"invalid secret name {name!r}", hint=hint + RULE)
    return name


def _check_apply(target: Target, apply: bool) -> None:
    if apply and not target.secrets.can_apply:
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
    store = target.secrets
    if not store.stores_values:
        return store.set(name, "")
    value = read_value()
    if not value or not value.strip():
        raise UsageError(f"empty value for {name}; nothing was stored")
    return store.set(name, value.strip("\r\n"), apply=apply)


def remove_secret(target: Target, name: str, *, apply: bool = False) -> str:
    check_name(name)
    _check_apply(target, apply)
    return target.secrets.remove(name, apply=apply)
