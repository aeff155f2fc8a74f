"""Azure physical names: the rules each resource kind obeys, and names derived from project + stack.

Pure functions (the standard library only). Every physical name a component sends to Azure comes
from `StackNames`, built once by `stacks.settings` from the user's config or derived here (the
stack imports this module as `stacks.naming`); `ftk doctor` derives a stack's names before its
first `pulumi up` with the same functions.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class NameRule:
    """One kind of Azure name: a regex that must match in full, and the rule in words."""

    pattern: str
    min_len: int
    max_len: int
    text: str

    def obeyed_by(self, name: str) -> bool:
        """Whether `name` obeys the rule."""
        if not self.min_len <= len(name) <= self.max_len:
            return False
        if self.text.endswith(_NO_DOUBLE) and "--" in name:
            return False
        return re.fullmatch(self.pattern, name) is not None


_LOWER_HYPHEN = r"[a-z]([a-z0-9-]*[a-z0-9])?"
_NO_DOUBLE = "; no '--'"

# The rules as Azure documents them ("Naming rules and restrictions for Azure resources", and the
# Container Apps validation messages).
RULES: Final[dict[str, NameRule]] = {
    "resourceGroup": NameRule(
        r"[A-Za-z0-9_().-]*[A-Za-z0-9_()-]",
        1,
        90,
        "1-90 characters: letters, digits, '_', '-', '.', '(' and ')'; must not end with '.'",
    ),
    "storageAccount": NameRule(
        r"[a-z0-9]+",
        3,
        24,
        "3-24 characters: lowercase letters and digits only (and unique across all of Azure)",
    ),
    "fileShare": NameRule(
        r"[a-z0-9]([a-z0-9-]*[a-z0-9])?",
        3,
        63,
        "3-63 characters: lowercase letters, digits and '-'; starts and ends with a letter or "
        "digit" + _NO_DOUBLE,
    ),
    "logAnalytics": NameRule(
        r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?",
        4,
        63,
        "4-63 characters: letters, digits and '-'; starts and ends with a letter or digit",
    ),
    "environment": NameRule(
        _LOWER_HYPHEN,
        2,
        60,
        "2-60 characters: lowercase letters, digits and '-'; starts with a letter, ends with a "
        "letter or digit" + _NO_DOUBLE,
    ),
    "environmentStorage": NameRule(
        _LOWER_HYPHEN,
        2,
        32,
        "2-32 characters: lowercase letters, digits and '-'; starts with a letter, ends with a "
        "letter or digit" + _NO_DOUBLE,
    ),
    "containerApp": NameRule(
        _LOWER_HYPHEN,
        2,
        32,
        "2-32 characters: lowercase letters, digits and '-'; starts with a letter, ends with a "
        "letter or digit" + _NO_DOUBLE,
    ),
}
RULES["job"] = RULES["containerApp"]


@dataclass(frozen=True)
class StackNames:
    """The physical name of every resource the stack creates or references."""

    resource_group: str
    storage_account: str
    file_share: str
    log_analytics: str
    environment: str
    environment_storage: str
    job: str
    app: str


def slug(text: str) -> str:
    """Lowercase letters, digits and single hyphens, starting with a letter."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    s = re.sub(r"^[^a-z]+", "", s)
    return s or "ftk"


def _fit(stem: str, suffix: str, max_len: int) -> str:
    """`stem-suffix` cut to `max_len`, never ending in a hyphen nor holding '--'."""
    head = stem[: max_len - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def storage_account_name(project: str, stack: str, seed: str) -> str:
    """Globally unique yet stable: letters of project+stack, then a hash of `seed`.

    `seed` holds what makes the name unique across tenants (the subscription id); the same
    project, stack and subscription always give the same name.
    """
    digest = hashlib.sha256(f"{seed}/{project}/{stack}".encode()).hexdigest()[:8]
    letters = re.sub(r"[^a-z0-9]", "", f"{project}{stack}".lower())
    return (letters[: 24 - len(digest)] + digest)[:24]


def registry_name(project: str, stack: str, seed: str) -> str:
    """A container registry: 5-50 letters and digits, unique across Azure (as the storage account,
    a hash of `seed` keeps it so)."""
    digest = hashlib.sha256(f"{seed}/{project}/{stack}/acr".encode()).hexdigest()[:8]
    letters = re.sub(r"[^a-z0-9]", "", f"{project}{stack}".lower())
    return (letters[: 50 - len(digest)] + digest).rjust(5, "0")


def pull_identity_name(project: str, stack: str) -> str:
    """The user-assigned identity the job and the app pull the prebuilt image with."""
    return _fit(slug(f"{project}-{stack}"), "pull", 128)


def derived_names(project: str, stack: str, seed: str) -> StackNames:
    """Names for every resource, from project + stack (+ `seed` for the storage account)."""
    stem = slug(f"{project}-{stack}")
    return StackNames(
        resource_group=_fit(stem, "rg", 90),
        storage_account=storage_account_name(project, stack, seed),
        file_share=_fit(stem, "share", 63),
        log_analytics=_fit(stem, "logs", 63),
        environment=_fit(stem, "env", 60),
        environment_storage=_fit(stem, "share", 32),
        job=_fit(stem, "job", 32),
        app=_fit(stem, "app", 32),
    )
