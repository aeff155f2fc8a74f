"""`ftk doctor` through the real Azure SDK clients against the loopback ARM fake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.main import cli
from testkit.fakes.azure import FakeAzure, target_from_outputs
from testkit.fakes.azure_doctor import READER, DoctorArm

for _module in ("azure.mgmt.resource.resources", "azure.mgmt.authorization"):
    pytest.importorskip(_module, reason="ftk doctor's dependencies: pip install -e .")

SERVERLESS_A100 = "Consumption-GPU-NC24-A100"
T4 = "Consumption-GPU-NC8as-T4"


@pytest.fixture
def doctor(fake_azure: FakeAzure, doctor_arm: DoctorArm, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`ftk doctor --json ARGS` on a deployed stack in `fake_azure`: (result, rows by check)."""

    def run(*args: str, **outputs: Any):  # type: ignore[no-untyped-def]
        values = {"GPU_PROFILE": SERVERLESS_A100, **outputs}
        target = target_from_outputs(
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
    assert "1 T4 (15 GiB)" in row["evidence"]
    assert "4bit" in row["fix"] and "Consumption-GPU-NC24-A100" in row["fix"]
    assert rows["model access"]["status"] == "ok"  # gated; the fake job has HF_TOKEN
    assert "$" in rows["cost estimate"]["evidence"]


def test_the_same_model_in_4bit_with_checkpointing_fits_an_a100(doctor, tmp_path: Path):
    config = tmp_path / "fits.yaml"
    config.write_text(BIG_ON_T4.replace("mode: none", "mode: 4bit"))
    result, rows = doctor("--config", str(config))
    assert rows["model fits"]["status"] == "ok", rows["model fits"]
    cost = json.loads(result.stdout)["estimate"]["cost"]
    assert cost["per_hour"] == pytest.approx(8.122) and cost["at_most"] > 0


def test_dpo_is_sized_with_chosen_and_rejected_together(doctor, tmp_path: Path):
    sft = tmp_path / "sft.yaml"
    sft.write_text(BIG_ON_T4.replace("mode: none", "mode: 4bit"))
    dpo = tmp_path / "dpo.yaml"
    dpo.write_text(sft.read_text() + "  method: dpo\n")
    sft_result, _ = doctor("--config", str(sft))
    result, rows = doctor("--config", str(dpo))
    assert "dpo: batch 4 pairs = 8 x 2048 tokens" in rows["model fits"]["evidence"]
    memory = json.loads(result.stdout)["estimate"]["memory"]["memory"]
    sft_memory = json.loads(sft_result.stdout)["estimate"]["memory"]["memory"]
    assert memory["activations"] == 2 * sft_memory["activations"]
    assert memory["weights"] == sft_memory["weights"]  # no second copy for the reference


def test_human_output_has_symbols_and_fixes(fake_azure: FakeAzure, doctor_arm: DoctorArm, tmp_path):
    doctor_arm.providers["Microsoft.Storage"] = "NotRegistered"
    target = target_from_outputs(
        fake_azure.outputs(GPU_PROFILE=SERVERLESS_A100), connection=fake_azure.connection()
    )
    result = CliRunner().invoke(cli, ["doctor"], obj=App.with_target(target, tmp_path))
    assert result.exit_code == 1
    assert "✓" in result.stderr and "✗" in result.stderr
    assert "fix: az provider register --namespace Microsoft.Storage" in result.stderr
    assert result.stdout == ""


def test_gated_model_without_hf_token_is_a_failure(doctor, tmp_path: Path):
    config = tmp_path / "gated.yaml"
    config.write_text(BIG_ON_T4.replace("mode: none", "mode: 4bit"))
    result, rows = doctor("--config", str(config), JOB_SECRET_NAMES=[])
    assert result.exit_code == 1
    row = rows["model access"]
    assert row["status"] == "fail" and "HF_TOKEN is not a job secret" in row["evidence"]
    assert "ftk secret set HF_TOKEN" in row["fix"]


def test_identity_is_read_from_the_token_claims():
    import base64

    from cli.targets.azure.arm import token_claims

    payload = base64.urlsafe_b64encode(b'{"upn": "ana@contoso.com", "tid": "t-1"}').rstrip(b"=")
    assert token_claims(f"eyJhbGciOiJub25lIn0.{payload.decode()}.sig") == {
        "upn": "ana@contoso.com",
        "tid": "t-1",
    }
    assert token_claims("not-a-jwt") == {}
