"""The Azure checks: credentials, resource providers, the GPU in the region, GPU quota.

Each check is one function returning a `Row`; none raises for what Azure answers. A refused read
(403) is a `!` row naming the role to ask for, a throttled one (429 after the SDK's retries) a `!`
row saying to retry; only what will certainly fail is a `✗`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from cli.targets.aca.doctor.arm import ContainerAppsReader, Usage
from cli.targets.aca.doctor.deployment import Deployment
from cli.targets.azure.arm import ArmReader
from cli.targets.checks import Row, fail, ok, warn

if TYPE_CHECKING:
    from contract.gpus import GpuProfile

LOGIN_FIX = (
    "sign in with `az login` (or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or use "
    "a managed identity)"
)
PROVIDERS = ("Microsoft.App", "Microsoft.OperationalInsights", "Microsoft.Storage")
# `prebuiltImage: true` adds a container registry and a user-assigned identity (stacks/registry.py).
PREBUILT_PROVIDERS = ("Microsoft.ContainerRegistry", "Microsoft.ManagedIdentity")
QUOTA_DOCS = "https://learn.microsoft.com/azure/container-apps/quota-requests"


def refused(name: str, exc: BaseException, *, role: str, scope: str) -> Row:
    """A read Azure did not answer: a `!` row with the role (403) or a retry (429, 5xx)."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError

    status = getattr(exc, "status_code", None)
    code = getattr(getattr(exc, "error", None), "code", None) or ""
    if status == 403:
        return warn(
            name,
            f"ARM refused the read (403 {code}); not checked".replace(" ;", ";"),
            f"ask for the '{role}' role on {scope}, then run `ftk doctor` again",
        )
    if status == 429:
        return warn(
            name,
            "ARM throttled the read (429) beyond the SDK's retries; not checked",
            "wait a minute and run `ftk doctor` again",
        )
    if isinstance(exc, ServiceRequestError):
        return warn(name, f"could not reach ARM ({exc}); not checked", "check the network")
    if isinstance(exc, HttpResponseError):
        message = str(getattr(exc, "message", None) or exc).splitlines()[0][:200]
        return warn(name, f"ARM answered HTTP {status}: {message}; not checked")
    raise exc


def guarded(name: str, role: str, scope: str, check: Callable[[], Row]) -> Row:
    """Run one check; an Azure refusal becomes its `!` row."""
    from azure.core.exceptions import AzureError

    try:
        return check()
    except AzureError as exc:
        return refused(name, exc, role=role, scope=scope)


# -- credentials --------------------------------------------------------------------------------


def credentials(arm: ArmReader | None, dep: Deployment) -> Row:
    """Which identity, tenant and subscription will be used."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    name = "credentials"
    if arm is None:
        return fail(
            name,
            f"{dep.origin} names no subscription",
            "`pulumi config set azure-native:subscriptionId <id>` "
            "(or export AZURE_SUBSCRIPTION_ID)",
        )
    try:
        claims = arm.claims()
    except ClientAuthenticationError as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return fail(name, f"no Azure credentials ({first})", LOGIN_FIX)
    who = (
        claims.get("upn")
        or claims.get("unique_name")
        or claims.get("preferred_username")
        or (f"app {claims['appid']}" if claims.get("appid") else None)
        or "signed in"
    )
    try:
        info = arm.subscription_info()
    except HttpResponseError as exc:
        if exc.status_code in (403, 404):
            return fail(
                name,
                f"{who} cannot see subscription {arm.subscription} (HTTP {exc.status_code})",
                "check the subscription id, or sign in as an identity with a role on it",
            )
        return refused(name, exc, role="Reader", scope=f"subscription {arm.subscription}")
    tenant = info.get("tenantId") or claims.get("tid") or "?"
    state = info.get("state", "?")
    evidence = (
        f"{who}, tenant {tenant}; subscription '{info.get('displayName', '?')}' "
        f"({arm.subscription}) is {state}"
    )
    if state != "Enabled":
        return fail(name, evidence, "use an enabled subscription (a disabled one creates nothing)")
    return ok(name, evidence)


# -- providers and region -----------------------------------------------------------------------


def providers(arm: ArmReader, dep: Deployment | None = None) -> Row:
    """Microsoft.App, Microsoft.OperationalInsights and Microsoft.Storage registered, and with
    `prebuiltImage` Microsoft.ContainerRegistry and Microsoft.ManagedIdentity too."""
    wanted = (*PROVIDERS, *(PREBUILT_PROVIDERS if dep is not None and dep.prebuilt_image else ()))

    def check() -> Row:
        states = {ns: arm.provider_state(ns) for ns in wanted}
        evidence = ", ".join(f"{ns} {state}" for ns, state in states.items())
        missing = [ns for ns, state in states.items() if state != "Registered"]
        if not missing:
            return ok("resource providers", evidence)
        fix = "; ".join(f"az provider register --namespace {ns}" for ns in missing)
        if all(states[ns] == "Registering" for ns in missing):
            return warn("resource providers", evidence, f"wait a few minutes (or: {fix})")
        return fail("resource providers", evidence, fix)

    return guarded("resource providers", "Reader", f"subscription {arm.subscription}", check)


def region(arm: ContainerAppsReader, dep: Deployment) -> Row:
    """The region offers the GPU workload profile (ARM first, ftk's dated table as fallback)."""
    from azure.core.exceptions import AzureError

    from contract import gpus

    name = "GPU in region"
    if not dep.location:
        if not dep.is_stack:
            return warn(name, f"{dep.origin} names no region (LOCATION); not checked")
        return fail(
            name, "no region set", "`pulumi config set azure-native:location swedencentral`"
        )
    if not dep.gpu_profile:
        return warn(name, f"{dep.origin} names no GPU profile (GPU_PROFILE); not checked")
    profile = gpus.GPU_PROFILES.get(dep.gpu_profile or "")
    where = ", ".join(gpus.regions_with(profile)) if profile else "?"
    try:
        offered = arm.workload_profile_types(dep.location)
    except AzureError as exc:
        row = refused(name, exc, role="Reader", scope=f"subscription {arm.subscription}")
        known = gpus.region_offers(profile, dep.location) if profile else None
        table = f"ftk's table (as of {gpus.REGIONS_AS_OF})"
        if known is False:
            return fail(
                name,
                f"{row.evidence}; {table} has no {dep.gpu_profile} in {dep.location}",
                f"pick one of: {where}",
            )
        said = "lists" if known else "does not know"
        return warn(name, f"{row.evidence}; {table} {said} {dep.location}", row.fix)
    if (dep.gpu_profile or "").lower() in {p.lower() for p in offered}:
        return ok(name, f"{dep.location} offers {dep.gpu_profile}")
    offered_gpus = sorted(p for p in offered if "GPU" in p.upper() or "A100" in p or "T4" in p)
    return fail(
        name,
        f"{dep.location} does not offer {dep.gpu_profile} (its GPU profiles: "
        f"{', '.join(offered_gpus) or 'none'})",
        f"use a region that offers it (ftk's table: {where}), e.g. "
        f"`pulumi config set azure-native:location {where.split(', ')[0]}`",
    )


def _gpu_usage(usages: list[Usage], gpu_name: str, serverless: bool) -> Usage | None:
    # Usage names (name.value) are in no spec example. Their display names are documented:
    # "Managed Environment Consumption NCA100 Gpus" / "... T4 Gpus" (environment, quotas.md),
    # "Subscription Consumption NCA 100 Gpus" / "Subscription Consumption T 4 Gpus" (the
    # serverless profiles' quota names, workload-profiles-overview.md, ms.date 11/05/2024) and
    # "Subscription NCA 100 GPUs" (dedicated; quota-requests.md, ms.date 04/29/2025), all
    # MicrosoftDocs/azure-docs articles/container-apps/, read 2026-12-05. So both the value and
    # the display name are matched, with spaces and case ignored.
    for usage in usages:
        text = re.sub(r"[^a-z0-9]", "", f"{usage.name} {usage.label}".lower())
        if "gpu" not in text or gpu_name.lower() not in text:
            continue
        if ("consumption" in text) == serverless:
            return usage
    return None


def gpu_quotas(
    arm: ContainerAppsReader, dep: Deployment, profile: GpuProfile
) -> list[tuple[Usage, str]]:
    """Every GPU quota that bounds `dep`'s profile, with where it was read. A serverless
    profile has two: the environment's (once it exists) and the subscription's in the region;
    a dedicated one the subscription's."""
    found: list[tuple[Usage, str]] = []
    if profile.serverless and dep.deployed and dep.environment and dep.resource_group:
        usages = arm.environment_usages(dep.resource_group, dep.environment)
        usage = _gpu_usage(usages, profile.gpu, True)
        if usage is not None:
            found.append((usage, f"environment {dep.environment}"))
    usage = _gpu_usage(arm.region_usages(dep.location or ""), profile.gpu, profile.serverless)
    if usage is not None:
        found.append((usage, f"the subscription in {dep.location}"))
    return found


def gpu_quota(
    arm: ContainerAppsReader, dep: Deployment, profile: GpuProfile
) -> tuple[Usage | None, str]:
    """The tighter of the GPU quotas that bound `dep`'s profile (the fewest GPUs free) and
    where it was read; (None, region) when none is listed."""
    found = gpu_quotas(arm, dep, profile)
    if not found:
        return None, f"region {dep.location}"
    usage, scope = min(found, key=lambda pair: pair[0].limit - pair[0].current)
    others = [f"{where}: {u.current:g} of {u.limit:g} used" for u, where in found if where != scope]
    if others:
        scope += f" (tighter than {'; '.join(others)})"
    return usage, scope


def quota(arm: ContainerAppsReader, dep: Deployment) -> Row:
    """GPU quota (current vs limit) against what the stack can ask for at once."""
    from contract import gpus

    name = "GPU quota"
    profile = gpus.GPU_PROFILES.get(dep.gpu_profile or "")
    if profile is None or not dep.location:
        return warn(name, f"unknown GPU profile {dep.gpu_profile!r}; not checked")

    def check() -> Row:
        usage, scope = gpu_quota(arm, dep, profile)
        if usage is None:
            return warn(
                name,
                f"no {profile.gpu} GPU quota listed for {dep.location}"
                + (
                    " (serverless GPU quota is per environment: listed once it exists)"
                    if profile.serverless and not dep.deployed
                    else ""
                ),
                f"check it after `pulumi up` with `ftk doctor`; to raise it see {QUOTA_DOCS}",
            )
        free = usage.limit - usage.current
        need = dep.gpus_at_once
        replicas = dep.app_replicas
        parts = ["1 job execution"]
        if replicas:
            plural = "s" if replicas != 1 else ""
            parts += [
                f"{replicas} inference replica{plural}",
                f"{replicas} more while `ftk deploy` replaces a running revision",
            ]
        evidence = (
            f"{usage.label or usage.name} in {scope}: {usage.current:g} of {usage.limit:g} used; "
            f"the stack can ask for {need} at once ({' + '.join(parts)})"
        )
        request = f"ask for more '{usage.label or usage.name}' quota ({QUOTA_DOCS})"
        if free >= need:
            return ok(name, evidence)
        if free >= 1:
            fix = "runs wait while the app holds GPUs, and `ftk deploy` of a running app waits"
            return warn(name, evidence, f"{fix} for a free GPU; {request}")
        return fail(name, evidence, request)

    return guarded(name, "Reader", f"subscription {arm.subscription}", check)
