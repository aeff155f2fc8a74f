"""Run every check that applies to a target (and a run config), in a fixed order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from cli.doctor import access_checks as access
from cli.doctor import azure_checks as az
from cli.doctor.deployment import DEFAULT_TIMEOUT, Deployment, from_target
from cli.doctor.report import Report, Status, ok
from cli.doctor.run_checks import RunFacts, run_checks
from cli.errors import FtkError, UsageError

if TYPE_CHECKING:  # the Azure target and its SDKs load only where Azure is checked
    from cli.doctor.arm import ArmReader
    from cli.targets.azure import AzureTarget
    from cli.targets.base import Target

DOCTOR_SDKS = (
    ("azure.mgmt.resource", "azure-mgmt-resource"),
    ("azure.mgmt.authorization", "azure-mgmt-authorization"),
)


def _secret_names(target: Target) -> tuple[str, ...] | None:
    try:
        return tuple(target.secrets.names())
    except FtkError:
        return None


def diagnose(target: Target, project_dir: Path, config_file: Path | None = None) -> Report:
    """The doctor's report for `target`; with `config_file`, the run-config checks too."""
    from cli.targets.azure import AzureTarget

    if not isinstance(target, AzureTarget):  # local: nothing of Azure to check
        report = Report(target="local (this machine)")
        report.rows.append(ok("target", "--local: runs train on this machine; no Azure checks"))
        facts = RunFacts("local", None, _secret_names(target))
    else:
        dep = from_target(target, project_dir)
        report = Report(target=dep.origin)
        dep, timeout = _azure_rows(report, target, dep)
        secrets = dep.job_secrets if dep.job_secrets is not None else _secret_names(target)
        facts = RunFacts(dep.gpu_profile, timeout, secrets)
    if config_file is not None:
        rows, figures = run_checks(config_file, project_dir, facts)
        report.rows.extend(rows)
        report.estimate = figures
    return report


def placed_from_job(arm: ArmReader, dep: Deployment) -> Deployment:
    """Region, environment and GPU profile from the job itself when the target leaves them out
    (the AI Toolkit's files do)."""
    from azure.core.exceptions import AzureError

    from stacks.gpu import normalize_region

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
    report: Report, target: AzureTarget, dep: Deployment
) -> tuple[Deployment, int | None]:
    """Append the Azure rows; return what is known of the deployment and its time budget."""
    from cli.doctor.arm import ArmReader

    _require_sdks()
    arm = ArmReader(target.deployment.connection, dep.subscription) if dep.subscription else None
    credentials = az.credentials(arm, dep)
    report.rows.append(credentials)
    if arm is None or credentials.status is Status.FAIL:
        return dep, dep.job_timeout or DEFAULT_TIMEOUT
    dep = placed_from_job(arm, dep)
    report.rows.append(az.providers(arm, dep))
    report.rows.append(az.region(arm, dep))
    report.rows.append(az.quota(arm, dep))
    report.rows.append(access.permissions(arm, dep, infra=not dep.is_stack))
    report.rows.extend(access.names(arm, dep))
    if dep.job_timeout is None and dep.resource_group and dep.must_exist.get("job"):
        from azure.core.exceptions import AzureError

        try:
            return dep, arm.job_timeout(dep.resource_group, dep.must_exist["job"])
        except AzureError:
            return dep, None
    return dep, dep.job_timeout
