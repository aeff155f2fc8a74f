"""`AzureTarget.checks()`: the Azure rows of `ftk doctor`, in a fixed order.

The stack config's own problems first (a stack only), then credentials, resource providers, the
GPU in the region, GPU quota, permissions and names. What the target knows of its deployment
(deployed or not) is `deployment.py`; the ARM reads are `arm.py`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from cli.errors import UsageError
from cli.targets.aca.doctor import access_checks as access
from cli.targets.aca.doctor import azure_checks as az
from cli.targets.aca.doctor.deployment import Deployment, from_target
from cli.targets.base import PlatformChecks
from cli.targets.checks import Row, Status, fail
from contract.stack_config import default

if TYPE_CHECKING:
    from cli.targets.aca import AzureTarget

DOCTOR_SDKS = (
    ("azure.mgmt.resource", "azure-mgmt-resource"),
    ("azure.mgmt.authorization", "azure-mgmt-authorization"),
)


def platform_checks(target: AzureTarget) -> PlatformChecks:
    """The doctor's Azure rows for `target`, and where a run would train (profile, budget)."""
    from cli.targets.aca.pricing import pricing

    dep = from_target(target)
    result = PlatformChecks(target=dep.origin, rows=config_rows(dep))
    dep, timeout = _azure_rows(result.rows, target, dep)
    result.gpu_profile = dep.gpu_profile
    result.timeout = timeout
    result.secrets = dep.job_secrets
    result.pricing = pricing(dep.gpu_profile)
    return result


def config_rows(dep: Deployment) -> list[Row]:
    """One ✗ per stack config value that breaks its key's rule (`pulumi up` would stop on it;
    the other checks go on with the key's default)."""
    return [fail("stack config", problem, fix) for problem, fix in dep.config_problems]


def placed_from_job(arm: Any, dep: Deployment) -> Deployment:
    """Region, environment and GPU profile from the job itself when the target leaves them out
    (the AI Toolkit's files do)."""
    from azure.core.exceptions import AzureError

    from contract.gpus import normalize_region

    job = dep.must_exist.get("job")
    if (dep.location and dep.gpu_profile) or not (job and dep.resource_group):
        return dep
    try:
        location, environment, profile = arm.job_placement(dep.resource_group, job)
    except AzureError:
        return dep  # the existing-resources row reports a missing or unreadable job
    must = dict(dep.must_exist)
    if environment and "environment" not in must:
        must["environment"] = environment
    return replace(
        dep,
        location=dep.location or normalize_region(location),
        environment=dep.environment or environment,
        gpu_profile=dep.gpu_profile or profile,
        must_exist=must,
    )


def _require_sdks() -> None:
    import importlib.util

    for module, package in DOCTOR_SDKS:
        if importlib.util.find_spec(module) is None:
            raise UsageError(
                f"ftk doctor needs {package}, which is not installed",
                hint=f"pip install '{package}' (or reinstall ftk: pip install -e .)",
            )


def _azure_rows(
    rows: list[Row], target: AzureTarget, dep: Deployment
) -> tuple[Deployment, int | None]:
    """Append the Azure rows; return what is known of the deployment and its time budget."""
    from cli.targets.aca.doctor.arm import ContainerAppsReader

    _require_sdks()
    arm = (
        ContainerAppsReader(target.deployment.connection, dep.subscription)
        if dep.subscription
        else None
    )
    credentials = az.credentials(arm, dep)
    rows.append(credentials)
    if arm is None or credentials.status is Status.FAIL:
        return dep, dep.job_timeout or default("timeout")
    dep = placed_from_job(arm, dep)
    rows.append(az.providers(arm, dep))
    rows.append(az.region(arm, dep))
    rows.append(az.quota(arm, dep))
    rows.append(access.permissions(arm, dep, infra=not dep.is_stack))
    rows.extend(access.names(arm, dep))
    if dep.job_timeout is None and dep.resource_group and dep.must_exist.get("job"):
        from azure.core.exceptions import AzureError

        try:
            return dep, arm.job_timeout(dep.resource_group, dep.must_exist["job"])
        except AzureError:
            return dep, None
    return dep, dep.job_timeout
