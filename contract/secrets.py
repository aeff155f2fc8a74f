"""The one rule for job secret names, shared by `ftk secret` and the stack's `jobSecrets`.

A job secret is named by the environment variable it becomes in the job (`HF_TOKEN`). ACA keeps it
as a secret whose name is the lower-cased, dash-separated form (`hf-token`), referenced from the
container's env with `secretRef`.

The rule is the intersection of what both sides take, so every accepted name maps to a valid ACA
secret name and two different names never map to the same one:
- env var names: POSIX portable names (letters, digits, `_`, not starting with a digit); we take
  upper case only, so the mapping to lower case is one-to-one.
- ACA secret names: lower-case alphanumerics and `-`, starting and ending with an alphanumeric
  (ARM's `ContainerAppSecretInvalidName` rule; no official spec states the pattern — the OpenAPI
  `Secret.name` is a plain string, Azure/azure-rest-api-specs
  specification/app/resource-manager/Microsoft.App/stable/2025-01-01/CommonDefinitions.json,
  read 2026-12-01 — so we keep to the strictest form reported). Hence: start with a letter, end
  with a letter or digit, at most 63 characters (a DNS label, the Kubernetes limit ACA builds on).
"""

from __future__ import annotations

import re
from typing import Final

MAX_LENGTH: Final = 63
PATTERN: Final = re.compile(r"[A-Z](?:[A-Z0-9_]{0,61}[A-Z0-9])?")
RULE: Final = (
    "a secret is named by its environment variable: upper-case letters, digits and '_', "
    f"starting with a letter, not ending with '_', at most {MAX_LENGTH} characters (e.g. HF_TOKEN)"
)


def is_valid_secret_name(name: str) -> bool:
    return PATTERN.fullmatch(name) is not None


def aca_secret_name(env_name: str) -> str:
    """The ACA secret behind env var `env_name`: `HF_TOKEN` -> `hf-token`.

    Raises ValueError for a name outside the rule, so a bad name never reaches ARM.
    """
    if not is_valid_secret_name(env_name):
        raise ValueError(f"invalid secret name {env_name!r}: {RULE}")
    return env_name.lower().replace("_", "-")
