"""The access checks: the caller's permissions on the resource group, and the names the target
uses (a new storage account's name is free; adopted or deployed resources exist)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from cli.targets.aca.doctor.arm import ContainerAppsReader
from cli.targets.aca.doctor.azure_checks import guarded
from cli.targets.aca.doctor.deployment import Deployment
from cli.targets.azure.arm import ArmReader
from cli.targets.checks import Row, fail, ok, warn

# What each verb needs on the resource group (ARM operation names, as in the built-in roles).
VERB_ACTIONS = (
    ("Microsoft.App/jobs/read", "ftk ps/logs"),
    ("Microsoft.App/jobs/start/action", "ftk run/resume"),
    ("Microsoft.App/containerApps/write", "ftk deploy"),
    ("Microsoft.Storage/storageAccounts/listKeys/action", "ftk sync/run/download"),
)
INFRA_ACTIONS = (("Microsoft.App/jobs/write", "ftk secret set"),)
UP_ACTIONS = (
    ("Microsoft.App/managedEnvironments/write", "pulumi up"),
    ("Microsoft.App/jobs/write", "pulumi up"),
    ("Microsoft.Storage/storageAccounts/write", "pulumi up"),
    ("Microsoft.OperationalInsights/workspaces/write", "pulumi up"),
)
# `prebuiltImage: true` grants the pull identity AcrPull on the registry (stacks/registry.py): a
# role assignment, which Contributor may not write ("does not allow you to assign roles in Azure
# RBAC"; its NotActions hold Microsoft.Authorization/*/Write). Owner, User Access Administrator
# and Role Based Access Control Administrator may (MicrosoftDocs/azure-docs articles/
# role-based-access-control/built-in-roles.md, ms.date 08/07/2023, read 2026-12-05).
PREBUILT_ACTIONS = (
    ("Microsoft.Authorization/roleAssignments/write", "pulumi up with prebuiltImage"),
    ("Microsoft.ContainerRegistry/registries/write", "pulumi up with prebuiltImage"),
    ("Microsoft.ManagedIdentity/userAssignedIdentities/write", "pulumi up with prebuiltImage"),
)
ROLE_ASSIGNERS = (
    "'Role Based Access Control Administrator' (or 'User Access Administrator', or Owner)"
)


def _allowed(action: str, roles: list[tuple[list[str], list[str]]]) -> bool:
    def hit(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)

    return any(hit(actions) and not hit(not_actions) for actions, not_actions in roles)


def permissions(arm: ArmReader, dep: Deployment, *, infra: bool) -> Row:
    """The caller's permissions on the resource group cover what the verbs (and `pulumi up`) do."""
    name = "permissions"
    rg = dep.resource_group or "?"

    def check() -> Row:
        if not dep.deployed and not arm.resource_group_exists(rg):
            needs = "that needs Contributor (or Owner) on the subscription"
            if dep.prebuilt_image:
                needs += f", and for prebuiltImage's AcrPull grant {ROLE_ASSIGNERS}"
            return warn(
                name, f"resource group {rg} does not exist yet; `pulumi up` creates it", needs
            )
        roles = arm.permissions(rg)
        up = UP_ACTIONS + (PREBUILT_ACTIONS if dep.prebuilt_image else ())
        wanted = [*VERB_ACTIONS, *(INFRA_ACTIONS if infra else up if dep.is_stack else ())]
        missing = [(a, why) for a, why in wanted if not _allowed(a, roles)]
        if not missing:
            return ok(name, f"{len(wanted)} actions the verbs need are allowed on {rg}")
        shown = "; ".join(f"{a} ({why})" for a, why in missing)
        fixes = []
        if any(not a.startswith("Microsoft.Authorization/") for a, _ in missing):
            fixes.append(f"the 'Contributor' role on resource group {rg}")
        if any(a.startswith("Microsoft.Authorization/") for a, _ in missing):
            fixes.append(
                f"{ROLE_ASSIGNERS} on resource group {rg}: prebuiltImage grants the pull "
                "identity AcrPull, and Contributor cannot assign roles"
            )
        return fail(
            name,
            f"not allowed on {rg}: {shown}",
            "ask for " + " and ".join(fixes) + " (or a role with those actions)",
        )

    return guarded(name, "Reader", f"resource group {rg}", check)


def names(arm: ContainerAppsReader, dep: Deployment) -> list[Row]:
    """A new storage account's name is free; resources the target names exist."""
    rows: list[Row] = []
    rg = dep.resource_group or "?"
    if dep.new_storage_account and dep.storage_account:
        rows.append(
            guarded(
                "storage account name",
                "Reader",
                f"subscription {arm.subscription}",
                lambda: _storage_name(arm, rg, dep.storage_account or ""),
            )
        )
    probes: dict[str, Callable[[str], bool]] = {
        "resource group": arm.resource_group_exists,
        "storage account": lambda n: arm.storage_account_exists(rg, n),
        "environment": lambda n: arm.environment_exists(rg, n),
        "job": lambda n: arm.job_exists(rg, n),
        "app": lambda n: arm.app_exists(rg, n),
    }
    wanted = {k: v for k, v in dep.must_exist.items() if k in probes}
    if wanted:
        rows.append(
            guarded(
                "existing resources",
                "Reader",
                f"resource group {rg}",
                lambda: _existing(wanted, probes, dep),
            )
        )
    return rows


def _storage_name(arm: ArmReader, rg: str, account: str) -> Row:
    name = "storage account name"
    available, reason, message = arm.storage_name(account)
    if available:
        return ok(name, f"'{account}' is free")
    if reason == "AlreadyExists" and arm.storage_account_exists(rg, account):
        return ok(name, f"'{account}' exists in {rg} (an earlier `pulumi up` made it)")
    return fail(
        name,
        f"'{account}' is not available: {message or reason}",
        "`pulumi config set storageAccountName <3-24 lowercase letters and digits>` "
        "(names are global across Azure)",
    )


def _existing(
    wanted: dict[str, str], probes: dict[str, Callable[[str], Any]], dep: Deployment
) -> Row:
    name = "existing resources"
    found = {kind: bool(probes[kind](value)) for kind, value in wanted.items()}
    listed = ", ".join(f"{kind} {wanted[kind]}" for kind in wanted)
    missing = [f"{kind} {wanted[kind]}" for kind, there in found.items() if not there]
    if not missing:
        return ok(name, f"found: {listed}")
    fix = (
        "run `pulumi up` to (re)create them"
        if dep.deployed and dep.is_stack
        else "create them, fix their names, or set the matching existing* key false"
        if dep.is_stack
        else "fix the names in the --infra files (the AI Toolkit writes them when it provisions)"
    )
    return fail(name, f"not found: {', '.join(missing)}", fix)
