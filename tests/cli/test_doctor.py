"""`ftk doctor` through the real Azure SDK clients against the loopback ARM fake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.main import cli
from cli.targets import azure_clients
from tests.fakes.azure import FakeAzure
from tests.fakes.azure_doctor import READER, DoctorArm, install
from tests.fakes.azure_fixtures import *  # noqa: F403

for _module in ("azure.mgmt.resource.resources", "azure.mgmt.authorization"):
    pytest.importorskip(_module, reason="ftk doctor's dependencies: pip install -e .")

SERVERLESS_A100 = "Consumption-GPU-NC24-A100"
T4 = "Consumption-GPU-NC8as-T4"


@pytest.fixture
def doctor_arm(fake_azure: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> DoctorArm:
    monkeypatch.setattr(azure_clients, "default_credential", lambda: fake_azure.credential)
    return install(fake_azure, retry_after="0")


@pytest.fixture
def doctor(fake_azure: FakeAzure, doctor_arm: DoctorArm, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`ftk doctor --json ARGS` on a deployed stack in `fake_azure`: (result, rows by check)."""
    from cli.targets.azure import AzureTarget

    def run(*args: str, **outputs: Any):  # type: ignore[no-untyped-def]
        values = {"GPU_PROFILE": SERVERLESS_A100, **outputs}
        target = AzureTarget.from_outputs(
            fake_azure.outputs(**values), connection=fake_azure.connection()
        )
        app = App.with_target(target, tmp_path)
        result = CliRunner().invoke(cli, ["doctor", "--json", *args], obj=app)
        data = json.loads(result.stdout)
        return result, {row["check"]: row for row in data["checks"]}

    return run


def statuses(rows: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: row["status"] for name, row in rows.items()}


def test_all_green(doctor, doctor_arm: DoctorArm):
    result, rows = doctor()
    assert result.exit_code == 0, result.output
    assert set(statuses(rows).values()) == {"ok"}, rows
    assert list(rows) == [
        "credentials",
        "resource providers",
        "GPU in region",
        "GPU quota",
        "permissions",
        "existing resources",
    ]
    assert "ftk test subscription" in rows["credentials"]["evidence"]
    assert "0 of 4 used" in rows["GPU quota"]["evidence"]
    assert "environmentUsages" in doctor_arm.calls  # serverless GPU quota is per environment


def test_quota_short_is_a_failure_with_the_quota_to_ask_for(doctor, doctor_arm: DoctorArm):
    doctor_arm.usages["ManagedEnvironmentConsumptionNCA100Gpus"] = (1, 1)
    result, rows = doctor()
    assert result.exit_code == 1
    row = rows["GPU quota"]
    assert row["status"] == "fail" and "1 of 1 used" in row["evidence"]
    assert "Managed Environment Consumption NCA100 Gpus" in row["fix"]
    assert "quota-requests" in row["fix"]


def test_quota_for_the_job_but_not_the_app_too_is_a_warning(doctor, doctor_arm: DoctorArm):
    doctor_arm.usages["ManagedEnvironmentConsumptionNCA100Gpus"] = (0, 1)
    result, rows = doctor()
    assert result.exit_code == 0
    assert rows["GPU quota"]["status"] == "warn"


def test_region_without_the_profile(doctor):
    result, rows = doctor(LOCATION="westeurope")
    assert result.exit_code == 1
    row = rows["GPU in region"]
    assert row["status"] == "fail"
    assert "westeurope does not offer Consumption-GPU-NC24-A100" in row["evidence"]
    assert "Consumption-GPU-NC8as-T4" in row["evidence"]  # what it does offer
    assert "swedencentral" in row["fix"]


def test_region_refused_falls_back_to_the_dated_table(doctor, doctor_arm: DoctorArm):
    doctor_arm.refuse.add("workloadProfiles")
    result, rows = doctor()
    assert result.exit_code == 0
    row = rows["GPU in region"]
    assert row["status"] == "warn" and "403" in row["evidence"] and "ftk's table" in row["evidence"]
    assert "'Reader'" in row["fix"]


def test_provider_not_registered(doctor, doctor_arm: DoctorArm):
    doctor_arm.providers["Microsoft.App"] = "NotRegistered"
    result, rows = doctor()
    assert result.exit_code == 1
    row = rows["resource providers"]
    assert row["status"] == "fail" and "Microsoft.App NotRegistered" in row["evidence"]
    assert row["fix"] == "az provider register --namespace Microsoft.App"


def test_no_permission_to_read_is_a_warning_with_the_role(doctor, doctor_arm: DoctorArm):
    doctor_arm.refuse.add("permissions")
    result, rows = doctor()
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    row = rows["permissions"]
    assert row["status"] == "warn" and "403 AuthorizationFailed" in row["evidence"]
    assert "'Reader' role on resource group rg-ftk-dev" in row["fix"]


def test_read_only_role_lacks_what_the_verbs_need(doctor, doctor_arm: DoctorArm):
    doctor_arm.permissions = [dict(READER)]
    result, rows = doctor()
    assert result.exit_code == 1
    row = rows["permissions"]
    assert "Microsoft.App/jobs/start/action (ftk run/resume)" in row["evidence"]
    assert "Microsoft.App/jobs/read" not in row["evidence"]
    assert "Contributor" in row["fix"]


def test_throttled_reads_are_retried_then_answered(doctor, doctor_arm: DoctorArm):
    doctor_arm.throttle["usages"] = 1
    doctor_arm.throttle["environmentUsages"] = 2
    result, rows = doctor()
    assert result.exit_code == 0
    assert rows["GPU quota"]["status"] == "ok"
    assert doctor_arm.calls.count("environmentUsages") == 3


def test_throttled_beyond_retries_is_a_warning(doctor, doctor_arm: DoctorArm):
    doctor_arm.throttle["providers"] = 100
    result, rows = doctor()
    assert result.exit_code == 0
    row = rows["resource providers"]
    assert row["status"] == "warn" and "429" in row["evidence"]


def test_missing_resource_of_a_deployed_stack(doctor, doctor_arm: DoctorArm):
    doctor_arm.environments.clear()
    result, rows = doctor()
    assert result.exit_code == 1
    row = rows["existing resources"]
    assert "environment ftk-dev-env" in row["evidence"] and "pulumi up" in row["fix"]


def test_no_credentials_is_one_failed_row(doctor, fake_azure: FakeAzure):
    from azure.core.exceptions import ClientAuthenticationError

    fake_azure.credential.error = ClientAuthenticationError("DefaultAzureCredential failed")
    result, rows = doctor()
    assert result.exit_code == 1
    assert list(rows) == ["credentials"]
    assert "az login" in rows["credentials"]["fix"]


BIG_ON_T4 = """model:
  name: mistralai/Mistral-7B-Instruct-v0.3
data:
  train_file: data/train.jsonl
quantization:
  mode: none
train:
  batch_size: 4
  max_length: 2048
"""


def test_model_too_big_for_a_t4(doctor, tmp_path: Path):
    config = tmp_path / "big.yaml"
    config.write_text(BIG_ON_T4)
    result, rows = doctor("--config", str(config), GPU_PROFILE=T4)
    assert result.exit_code == 1
    row = rows["model fits"]
    assert row["status"] == "fail"
    assert "1 T4 (16 GiB)" in row["evidence"]
    assert "4bit" in row["fix"] and "Consumption-GPU-NC24-A100" in row["fix"]
    assert rows["model access"]["status"] == "ok"  # gated; the fake job has HF_TOKEN
    assert "$" in rows["cost estimate"]["evidence"]


def test_the_same_model_in_4bit_with_checkpointing_fits_an_a100(doctor, tmp_path: Path):
    config = tmp_path / "fits.yaml"
    config.write_text(BIG_ON_T4.replace("mode: none", "mode: 4bit"))
    result, rows = doctor("--config", str(config))
    assert rows["model fits"]["status"] == "ok", rows["model fits"]
    cost = json.loads(result.stdout)["estimate"]["cost"]
    assert cost["per_hour"] == pytest.approx(3.672) and cost["at_most"] > 0


def test_human_output_has_symbols_and_fixes(fake_azure: FakeAzure, doctor_arm: DoctorArm, tmp_path):
    from cli.targets.azure import AzureTarget

    doctor_arm.providers["Microsoft.Storage"] = "NotRegistered"
    target = AzureTarget.from_outputs(
        fake_azure.outputs(GPU_PROFILE=SERVERLESS_A100), connection=fake_azure.connection()
    )
    result = CliRunner().invoke(cli, ["doctor"], obj=App.with_target(target, tmp_path))
    assert result.exit_code == 1
    assert "✓" in result.stderr and "✗" in result.stderr
    assert "fix: az provider register --namespace Microsoft.Storage" in result.stderr
    assert result.stdout == ""


# -- a stack before its first `pulumi up`: the checks read its config ---------------------------


@pytest.fixture
def stack_doctor(fake_azure: FakeAzure, doctor_arm: DoctorArm, tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    """Run `ftk --stack dev doctor --json` on a stack with config but no outputs yet."""
    from types import SimpleNamespace

    from cli.targets import stack_outputs
    from tests.fakes.pulumi_auto import FakeAuto, FakeStackObject

    project = tmp_path / "proj"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: ftk\nruntime: python\n")
    config: dict[str, str] = {
        "azure-native:location": "swedencentral",
        "azure-native:subscriptionId": fake_azure.SUBSCRIPTION,
        "ftk:gpuProfile": SERVERLESS_A100,
    }
    monkeypatch.setattr(stack_outputs, "_automation", lambda: FakeAuto({}))
    monkeypatch.setattr(
        FakeStackObject,
        "get_all_config",
        lambda self: {k: SimpleNamespace(value=v, secret=False) for k, v in config.items()},
    )
    monkeypatch.setenv("FTK_AZURE_ARM_ENDPOINT", fake_azure.url)
    monkeypatch.setenv("FTK_AZURE_CA_BUNDLE", fake_azure.server.ca_file)
    monkeypatch.setenv("FTK_AZURE_RETRY_BACKOFF", "0")

    def run(**settings: str):  # type: ignore[no-untyped-def]
        config.update(settings)
        result = CliRunner().invoke(
            cli, ["--stack", "dev", "--project-dir", str(project), "doctor", "--json"]
        )
        data = json.loads(result.stdout)
        return result, data, {row["check"]: row for row in data["checks"]}

    return run


def test_stack_before_first_up_works_from_its_config(stack_doctor, doctor_arm: DoctorArm):
    doctor_arm.resource_groups.clear()  # `pulumi up` has not created it yet
    result, data, rows = stack_doctor()
    assert result.exit_code == 0, result.output
    assert "before the first `pulumi up`" in data["target"]
    assert rows["credentials"]["status"] == "ok"
    assert rows["GPU in region"]["status"] == "ok"
    assert rows["storage account name"]["status"] == "ok"  # the derived name is free
    assert (
        rows["permissions"]["status"] == "warn" and "ftk-dev-rg" in rows["permissions"]["evidence"]
    )
    # serverless GPU quota is per environment: no environment yet, so it is not known
    assert rows["GPU quota"]["status"] == "warn"


def test_storage_account_name_taken(stack_doctor):
    result, _, rows = stack_doctor(**{"ftk:storageAccountName": "ftkstore"})
    assert result.exit_code == 1
    row = rows["storage account name"]
    assert row["status"] == "fail" and "already taken" in row["evidence"]
    assert "pulumi config set storageAccountName" in row["fix"]


def test_adopted_resource_group_must_exist(stack_doctor, doctor_arm: DoctorArm):
    doctor_arm.resource_groups.clear()
    result, _, rows = stack_doctor(
        **{"ftk:resourceGroupName": "rg-shared", "ftk:existingResourceGroup": "true"}
    )
    assert result.exit_code == 1
    row = rows["existing resources"]
    assert row["status"] == "fail" and "resource group rg-shared" in row["evidence"]


def test_local_target_checks_only_the_run_config(tmp_path: Path, project: Path):
    from cli.targets.local import LocalTarget

    app = App.with_target(LocalTarget(project), project)
    result = CliRunner().invoke(
        cli, ["doctor", "--json", "--config", "finetuning/tiny.yaml"], obj=app
    )
    assert result.exit_code == 0, result.output
    rows = {row["check"]: row for row in json.loads(result.stdout)["checks"]}
    assert list(rows) == ["target", "model fits", "model access", "cost estimate"]
    assert (
        "this machine's CPU" in rows["model fits"]["evidence"]
        or rows["model fits"]["status"] == "warn"
    )


def test_readme_shows_a_real_doctor_output(
    fake_azure: FakeAzure, doctor_arm: DoctorArm, monkeypatch
):
    """README.md and docs/doctor.md show this exact output (rendered 100 columns wide)."""
    from cli.targets import stack_outputs
    from tests.fakes.pulumi_auto import FakeAuto

    root = Path(__file__).resolve().parents[2]
    outputs = fake_azure.outputs(GPU_PROFILE=T4)
    monkeypatch.setattr(stack_outputs, "_automation", lambda: FakeAuto(outputs))
    doctor_arm.providers["Microsoft.App"] = "NotRegistered"
    doctor_arm.refuse.add("permissions")
    doctor_arm.usages["ManagedEnvironmentConsumptionT4Gpus"] = (1, 1)
    command = "ftk doctor --config training/examples/phi3-t4.yaml"
    result = CliRunner().invoke(
        cli,
        ["--stack", "dev", "--project-dir", str(root), *command.split()[1:]],
        env={**fake_azure.env(), "COLUMNS": "100"},
    )
    assert result.exit_code == 1, result.output
    shown = "\n".join(line.rstrip() for line in result.stderr.splitlines())
    for doc in ("README.md", "docs/doctor.md"):
        text = (root / doc).read_text()
        start = text.index(f"$ {command}\n") + len(f"$ {command}\n")
        assert text[start : text.index("```", start)].rstrip() == shown, doc


def test_infra_files_get_region_and_profile_from_the_job(
    fake_azure: FakeAzure, doctor_arm: DoctorArm, infra_target, tmp_path: Path
):
    """The AI Toolkit's files name no region or GPU profile: the job's environment does."""
    job = fake_azure.arm.jobs[fake_azure.JOB]["properties"]
    job["environmentId"] = (
        f"/subscriptions/{fake_azure.SUBSCRIPTION}/resourceGroups/{fake_azure.RESOURCE_GROUP}"
        "/providers/Microsoft.App/managedEnvironments/ftk-dev-env"
    )
    job["workloadProfileName"] = "GPU"
    app = App.with_target(infra_target, tmp_path)
    result = CliRunner().invoke(cli, ["doctor", "--json"], obj=app)
    assert result.exit_code == 0, result.output
    rows = {row["check"]: row for row in json.loads(result.stdout)["checks"]}
    assert set(statuses(rows).values()) == {"ok"}, rows
    assert rows["GPU in region"]["evidence"] == "swedencentral offers Consumption-GPU-NC24-A100"
    assert "environment ftk-dev-env" in rows["GPU quota"]["evidence"]
    assert "environment ftk-dev-env" in rows["existing resources"]["evidence"]


def test_gated_model_without_hf_token_is_a_failure(doctor, tmp_path: Path):
    config = tmp_path / "gated.yaml"
    config.write_text(BIG_ON_T4.replace("mode: none", "mode: 4bit"))
    result, rows = doctor("--config", str(config), JOB_SECRET_NAMES=[])
    assert result.exit_code == 1
    row = rows["model access"]
    assert row["status"] == "fail" and "HF_TOKEN is not a job secret" in row["evidence"]
    assert "ftk secret set HF_TOKEN" in row["fix"]
