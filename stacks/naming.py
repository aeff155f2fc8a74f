"""The stack's physical names: `contract.naming`, where `ftk doctor` reads the same rules.

Components take every Azure name from here (`StackNames`); the rules and the derivation live in
`contract/naming.py` so the CLI derives a stack's names without importing the stack.
"""

from contract.naming import (
    RULES,
    NameRule,
    StackNames,
    derived_names,
    pull_identity_name,
    registry_name,
    slug,
    storage_account_name,
)

__all__ = [
    "RULES",
    "NameRule",
    "StackNames",
    "derived_names",
    "pull_identity_name",
    "registry_name",
    "slug",
    "storage_account_name",
]
