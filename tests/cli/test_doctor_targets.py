"""`ftk doctor` on every kind of target: a stack before its first `pulumi up` (config only),
`--infra` files, `--local`; and the README's sample output, regenerated from the fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.app import App
from cli.main import cli
from testkit.fakes.azure import FakeAzure
from testkit.fakes.azure_doctor import DoctorArm

for _module in ("azure.mgmt.resource.resources", "azure.mgmt.authorization"):
    pytest.importorskip(_module, reason="ftk doctor's dependencies: pip install -e .")

SERVERLESS_A100 = "Consumption-GPU-NC24-A100"
T4 = "Consumption-GPU-NC8as-T4"


@pytest.fixture
def stack_doctor(fake_azure: FakeAzure, doctor_arm: DoctorArm, tmp_path: Path, monkeypatch):  # type: ignore[no-untyped-def]
    """Run `ftk --stack dev doctor --json` on a stack with config but no outputs yet."""
    from types import SimpleNamespace

    from cli.targets.azure import stack as stack_outputs
    from testkit.fakes.pulumi_auto import FakeAuto, FakeStackObject

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
    # no environment yet: the subscription's serverless GPU quota in the region still bounds it
    quota = rows["GPU quota"]
    assert quota["status"] == "ok"
    assert "Subscription Consumption NCA 100 Gpus in the subscription in" in quota["evidence"]


def test_stack_before_first_up_without_a_listed_quota_says_so(stack_doctor, doctor_arm):
    doctor_arm.resource_groups.clear()
    doctor_arm.usages.pop("SubscriptionConsumptionNCA100Gpus")
    _, _, rows = stack_doctor()
    assert rows["GPU quota"]["status"] == "warn"
    assert "listed once it exists" in rows["GPU quota"]["evidence"]


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


def test_stack_config_that_pulumi_up_would_refuse_is_a_failed_row(stack_doctor):
    """The doctor reads the stack's config through the program's own reader and table of keys
    (contract.stack_config): a value that breaks its rule, or a key ftk does not read, is a ✗
    with the key named, and the other checks go on with the key's default."""
    result, data, _ = stack_doctor(**{"ftk:timeout": "3h", "ftk:gpuProfle": "NC24-A100"})
    assert result.exit_code == 1
    config = [row for row in data["checks"] if row["check"] == "stack config"]
    assert [row["status"] for row in config] == ["fail", "fail"]
    unknown, timeout = config
    assert (
        "ftk:gpuProfle is not a key ftk reads; did you mean ftk:gpuProfile?"
        in (unknown["evidence"])
    )
    assert unknown["fix"] == "`pulumi config rm gpuProfle`"
    assert (
        "ftk:timeout = '3h' is invalid: must be a whole number of seconds from 1 to 86400"
        in (timeout["evidence"])
    )
    assert "pulumi config set timeout" in timeout["fix"]
    rows = {row["check"]: row for row in data["checks"]}
    assert rows["GPU in region"]["status"] == "ok"  # the default profile, in swedencentral


def test_a_valid_stack_config_adds_no_row(stack_doctor):
    _, data, _ = stack_doctor(**{"ftk:timeout": "7200", "ftk:maximumInstanceCount": "2"})
    assert "stack config" not in [row["check"] for row in data["checks"]]


def test_local_target_checks_only_the_run_config(tmp_path: Path, project: Path):
    from cli.targets.local import LocalTarget

    app = App.with_target(LocalTarget(project), project)
    result = CliRunner().invoke(
        cli, ["doctor", "--json", "--config", "finetuning/tiny.yaml"], obj=app
    )
    assert result.exit_code == 0, result.output
    rows = {row["check"]: row for row in json.loads(result.stdout)["checks"]}
    assert list(rows) == ["target", "model fits", "model access", "cost estimate"]
    # this machine is free, and no Azure price list stands behind that
    assert rows["cost estimate"]["evidence"] == "about $0.00/h (local, free)"
    assert (
        "this machine's CPU" in rows["model fits"]["evidence"]
        or rows["model fits"]["status"] == "warn"
    )


def test_readme_shows_a_real_doctor_output(
    fake_azure: FakeAzure, doctor_arm: DoctorArm, monkeypatch
):
    """README.md and docs/doctor.md show this exact output (rendered 100 columns wide)."""
    from cli.targets.azure import stack as stack_outputs
    from testkit.fakes.pulumi_auto import FakeAuto

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
    assert {row["status"] for row in rows.values()} == {"ok"}, rows
    assert rows["GPU in region"]["evidence"] == "swedencentral offers Consumption-GPU-NC24-A100"
    assert "environment ftk-dev-env" in rows["GPU quota"]["evidence"]
    assert "environment ftk-dev-env" in rows["existing resources"]["evidence"]


def test_prebuilt_image_needs_a_role_that_can_assign_roles(stack_doctor, doctor_arm: DoctorArm):
    """Issue 20 finding 4: prebuiltImage grants AcrPull, which Contributor cannot write."""
    doctor_arm.resource_groups.add("ftk-dev-rg")
    result, _, rows = stack_doctor()
    assert rows["permissions"]["status"] == "ok", rows["permissions"]  # Contributor suffices

    result, _, rows = stack_doctor(**{"ftk:prebuiltImage": "true"})
    assert result.exit_code == 1
    row = rows["permissions"]
    assert row["status"] == "fail"
    assert "Microsoft.Authorization/roleAssignments/write" in row["evidence"]
    assert "Role Based Access Control Administrator" in row["fix"]
    assert "Contributor cannot assign roles" in row["fix"]

    from testkit.fakes.azure_doctor import OWNER

    doctor_arm.permissions = [dict(OWNER)]
    result, _, rows = stack_doctor()
    assert rows["permissions"]["status"] == "ok", rows["permissions"]


def test_prebuilt_image_needs_the_registry_and_identity_providers(stack_doctor, doctor_arm):
    """Issue 20 finding 11."""
    doctor_arm.providers["Microsoft.ContainerRegistry"] = "NotRegistered"
    doctor_arm.providers.pop("Microsoft.ManagedIdentity", None)
    _, _, rows = stack_doctor()
    assert rows["resource providers"]["status"] == "ok"  # not needed without prebuiltImage
    _, _, rows = stack_doctor(**{"ftk:prebuiltImage": "true"})
    row = rows["resource providers"]
    assert row["status"] == "fail"
    assert "az provider register --namespace Microsoft.ContainerRegistry" in row["fix"]
    assert "az provider register --namespace Microsoft.ManagedIdentity" in row["fix"]


def test_quota_counts_the_gpu_a_deploy_of_a_warm_app_needs(stack_doctor, doctor_arm: DoctorArm):
    """Issue 20 finding 6: the job, the app's replicas, and one more while a deploy replaces a
    running revision."""
    doctor_arm.usages["SubscriptionConsumptionNCA100Gpus"] = (0, 2)  # job + 1 replica only
    _, _, rows = stack_doctor()
    row = rows["GPU quota"]
    assert row["status"] == "warn"
    assert "the stack can ask for 3 at once" in row["evidence"]
    assert "1 more while `ftk deploy` replaces a running revision" in row["evidence"]
    assert "`ftk deploy` of a running app waits" in row["fix"]
    _, _, rows = stack_doctor(**{"ftk:maximumInstanceCount": "2"})
    assert (
        "can ask for 5 at once (1 job execution + 2 inference replicas + 2 more while"
        in (rows["GPU quota"]["evidence"])
    )
    _, _, rows = stack_doctor(**{"ftk:inferenceEnabled": "false"})
    assert rows["GPU quota"]["status"] == "ok"
    assert "can ask for 1 at once (1 job execution)" in rows["GPU quota"]["evidence"]


def test_serverless_quota_is_the_tighter_of_environment_and_subscription(
    fake_azure: FakeAzure, doctor_arm: DoctorArm, tmp_path: Path
):
    """Issue 20 finding 9: the environment allows 4, the subscription has 1 left."""
    from testkit.fakes.azure import target_from_outputs

    doctor_arm.usages["ManagedEnvironmentConsumptionNCA100Gpus"] = (0, 4)
    doctor_arm.usages["SubscriptionConsumptionNCA100Gpus"] = (9, 10)
    target = target_from_outputs(
        fake_azure.outputs(GPU_PROFILE=SERVERLESS_A100), connection=fake_azure.connection()
    )
    app = App.with_target(target, tmp_path)
    result = CliRunner().invoke(cli, ["doctor", "--json"], obj=app)
    row = {r["check"]: r for r in json.loads(result.stdout)["checks"]}["GPU quota"]
    assert row["status"] == "warn"
    assert row["evidence"].startswith(
        "Subscription Consumption NCA 100 Gpus in the subscription in swedencentral "
        "(tighter than environment ftk-dev-env: 0 of 4 used): 9 of 10 used"
    )

    room = target.gpu_room()
    assert room is not None and room.free == 1  # what `ftk sweep --parallel` is capped at
