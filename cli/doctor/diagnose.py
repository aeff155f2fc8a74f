"""Run every check that applies to a target (and a run config), in a fixed order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli.doctor import azure_checks as az
from cli.doctor.deployment import DEFAULT_TIMEOUT, Deployment, from_target
from cli.doctor.report import Report, Status, ok
from cli.doctor.run_checks import RunFacts, run_checks
from cli.errors import FtkError


def _secret_names(target: Any) -> tuple[str, ...] | None:
    try:
        return tuple(target.list_secrets())
    except FtkError:
        return None


def diagnose(target: Any, project_dir: Path, config_file: Path | None = None) -> Report:
    """The doctor's report for `target`; with `config_file`, the run-config checks too."""
    if target.kind == "local":
        report = Report(target="local (this machine)")
        report.rows.append(ok("target", "--local: runs train on this machine; no Azure checks"))
        facts = RunFacts("local", None, _secret_names(target))
    else:
        dep = from_target(target, project_dir)
        report = Report(target=dep.origin)
        timeout = _azure_rows(report, target, dep)
        secrets = dep.job_secrets if dep.job_secrets is not None else _secret_names(target)
        facts = RunFacts(dep.gpu_profile, timeout, secrets)
    if config_file is not None:
        rows, figures = run_checks(config_file, project_dir, facts)
        report.rows.extend(rows)
        report.estimate = figures
    return report


def _azure_rows(report: Report, target: Any, dep: Deployment) -> int | None:
    """Append the Azure rows; return the job's time budget in seconds (best known)."""
    from cli.doctor.arm import ArmReader

    arm = ArmReader(target.connection, dep.subscription) if dep.subscription else None
    credentials = az.credentials(arm, dep)
    report.rows.append(credentials)
    if arm is None or credentials.status is Status.FAIL:
        return dep.job_timeout or DEFAULT_TIMEOUT
    report.rows.append(az.providers(arm))
    report.rows.append(az.region(arm, dep))
    report.rows.append(az.quota(arm, dep))
    report.rows.append(az.permissions(arm, dep, infra=target.kind == "infra"))
    report.rows.extend(az.names(arm, dep))
    if dep.job_timeout is None and dep.resource_group and dep.must_exist.get("job"):
        from azure.core.exceptions import AzureError

        try:
            return arm.job_timeout(dep.resource_group, dep.must_exist["job"])
        except AzureError:
            return None
    return dep.job_timeout
