"""Run every check that applies to a target (and a run config), in a fixed order: the target's
own platform rows (`Target.checks()`: Azure's credentials, region, quota, ...; none on a target
with no platform), then the run-config rows."""

from __future__ import annotations

from pathlib import Path

from cli.doctor.report import Report
from cli.doctor.run_checks import RunFacts, run_checks
from cli.errors import FtkError
from cli.targets.base import Target


def _secret_names(target: Target) -> tuple[str, ...] | None:
    try:
        return tuple(target.secrets.names())
    except FtkError:
        return None


def diagnose(target: Target, project_dir: Path, config_file: Path | None = None) -> Report:
    """The doctor's report for `target`; with `config_file`, the run-config checks too."""
    platform = target.checks()
    report = Report(target=platform.target, rows=list(platform.rows))
    secrets = platform.secrets if platform.secrets is not None else _secret_names(target)
    facts = RunFacts(platform.gpu_profile, platform.timeout, secrets, platform.pricing)
    if config_file is not None:
        rows, figures = run_checks(config_file, project_dir, facts)
        report.rows.extend(rows)
        report.estimate = figures
    return report
