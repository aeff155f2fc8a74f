"""Stack config validation: every bad value stops the program at start with one clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest

from contract.commands import JOB_COMMANDS
from stacks.reader import load_settings
from stacks.settings import SettingsError
from testkit.fakes.pulumi_mocks import run_program, set_stack_config

ROOT = Path(__file__).resolve().parents[2]


def load(config: dict, **kwargs) -> object:
    set_stack_config(config, **kwargs)
    return load_settings()


def test_defaults_match_the_documented_ones(pulumi_mocks) -> None:
    s = load({})
    assert s.gpu.type == "Consumption-GPU-NC24-A100"
    assert (s.cpu, s.memory) == (24, "220Gi")
    assert (s.timeout, s.replica_retry_limit, s.maximum_instance_count) == (10800, 0, 1)
    assert s.time_budget_seconds == 10800 - 600
    assert s.commands == JOB_COMMANDS
    assert s.mount_path == "/mount"
    assert s.location == "swedencentral"
    assert s.inference is not None and s.inference.min_replicas == 0
    assert s.tags == {"project": "ftk", "stack": "dev", "managed-by": "pulumi"}


def test_t4_profile_defaults_to_its_own_replica_size(pulumi_mocks) -> None:
    s = load({"gpuProfile": "Consumption-GPU-NC8as-T4"})
    assert (s.cpu, s.memory) == (8, "56Gi")


def test_a_dedicated_replica_sized_past_what_the_node_has_free_warns(
    pulumi_mocks, warnings
) -> None:
    s = load({"gpuProfile": "NC24-A100", "cpu": 24, "memory": "220Gi"}, location="westus3")
    assert (s.cpu, s.memory) == (24, "220Gi")  # allowed: the margin is ftk's, not Azure's
    assert len(warnings) == 2 and all("may never be scheduled" in w for w in warnings)


def test_short_timeout_keeps_a_proportional_margin(pulumi_mocks) -> None:
    assert load({"timeout": 100}).time_budget_seconds == 90


def test_startup_budget_fits_aca_probe_limits(pulumi_mocks) -> None:
    inf = load({"inferenceStartupSeconds": 2460}).inference
    probe = inf.startup_probe
    assert probe.initial_delay_seconds <= 60 and probe.period_seconds <= 240
    assert probe.failure_threshold <= 10
    assert probe.initial_delay_seconds + probe.period_seconds * probe.failure_threshold >= 2460


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ({"gpuProfile": "NC24-A10"}, ["ftk:gpuProfile", "'NC24-A10'", "NC24-A100", "one of"]),
        ({"timeout": 0}, ["ftk:timeout", "'0'", "from 1 to 86400"]),
        ({"timeout": 86401}, ["ftk:timeout", "'86401'", "from 1 to 86400"]),
        ({"timeout": "3h"}, ["ftk:timeout", "'3h'", "whole number"]),
        ({"storageAccountName": "My_Storage"}, ["storageAccountName", "3-24", "lowercase"]),
        ({"storageAccountName": "ab"}, ["storageAccountName", "'ab'", "3-24"]),
        ({"acaJobName": "train--job"}, ["ftk:acaJobName", "'train--job'", "no '--'"]),
        ({"acaJobName": "1job"}, ["acaJobName", "starts with a letter"]),
        ({"acaAppName": "a" * 33}, ["acaAppName", "2-32 characters"]),
        ({"acaAppName": "App"}, ["acaAppName", "lowercase"]),
        ({"fileShareName": "-share"}, ["fileShareName", "3-63"]),
        ({"acaEnvironmentStorageName": "x" * 33}, ["acaEnvironmentStorageName", "2-32"]),
        ({"resourceGroupName": "rg."}, ["resourceGroupName", "must not end with '.'"]),
        ({"gpuMinimumCount": 0}, ["ftk:gpuMinimumCount", "serverless", "takes no node counts"]),
        ({"gpuMaximumCount": 2}, ["ftk:gpuMaximumCount", "'2'", "ARM rejects"]),
        (
            {"gpuProfile": "NC24-A100", "gpuMinimumCount": 3, "gpuMaximumCount": 2},
            ["gpuMinimumCount", "must not exceed gpuMaximumCount"],
        ),
        ({"cpu": 48}, ["ftk:cpu", "'48'", "at most 24"]),
        ({"memory": "220GB"}, ["ftk:memory", "'220GB'", "'220Gi'"]),
        ({"commands": []}, ["ftk:commands", "non-empty list"]),
        ({"commands": "python train.py"}, ["ftk:commands", "list"]),
        ({"mountPath": "mount"}, ["ftk:mountPath", "absolute path"]),
        ({"maximumInstanceCount": 0}, ["maximumInstanceCount", "from 1 to 100"]),
        ({"inferenceMinReplicas": 2}, ["inferenceMinReplicas", "'2'", "from 0 to 1"]),
        ({"inferencePort": 70000}, ["inferencePort", "1 to 65535"]),
        ({"inferenceEnabled": "yes"}, ["inferenceEnabled", "true or false"]),
        ({"storageSku": "Premium_LRS"}, ["storageSku", "Standard_LRS"]),
        ({"logRetentionDays": 7}, ["logRetentionDays", "30 to 730"]),
        ({"gpuProfle": "NC24-A100"}, ["ftk:gpuProfle", "not a key", "ftk:gpuProfile"]),
        ({"existingFileShare": True}, ["existingFileShare", "needs"]),
        ({"existingResourceGroup": True}, ["existingResourceGroup", "resourceGroupName"]),
        ({"tags": ["a"]}, ["ftk:tags", "object"]),
    ],
)
def test_bad_config_is_rejected_naming_key_value_and_rule(pulumi_mocks, config, fragments):
    with pytest.raises(SettingsError) as err:
        load(config)
    for fragment in fragments:
        assert fragment in str(err.value), f"{fragment!r} missing from: {err.value}"


def test_a_dotted_key_set_without_path_is_caught(pulumi_mocks) -> None:
    with pytest.raises(SettingsError, match=r"--path 'jobSecrets\.HF_TOKEN'") as err:
        load({"jobSecrets.HF_TOKEN": "hf_SECRET_VALUE"})
    assert "hf_SECRET_VALUE" not in str(err.value)


def test_errors_are_run_errors_so_pulumi_prints_no_traceback(pulumi_mocks) -> None:
    with pytest.raises(pulumi.RunError):
        load({"timeout": -1})


def test_no_region_at_all_says_how_to_set_one(pulumi_mocks) -> None:
    with pytest.raises(SettingsError, match="azure-native:location"):
        load({}, location=None)


def test_bad_job_secret_name_never_echoes_the_value(pulumi_mocks) -> None:
    with pytest.raises(SettingsError) as err:
        load({}, secrets={"jobSecrets": {"hf-token": "hf_SECRET_VALUE"}})
    assert "ftk:jobSecrets.hf-token" in str(err.value)
    assert "hf_SECRET_VALUE" not in str(err.value)


def test_job_secret_values_must_be_strings(pulumi_mocks) -> None:
    with pytest.raises(SettingsError, match="non-empty string"):
        load({}, secrets={"jobSecrets": {"HF_TOKEN": 123}})


def test_job_secret_values_are_kept_out_of_the_settings_repr(pulumi_mocks) -> None:
    s = load({}, secrets={"jobSecrets": {"HF_TOKEN": "hf_SECRET_VALUE"}})
    assert s.job_secret_names == ("HF_TOKEN",)
    assert "hf_SECRET_VALUE" not in repr(s)


T4 = "Consumption-GPU-NC8as-T4"


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    """What the program passed to `pulumi.log.warn`."""
    seen: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: seen.append(msg))
    return seen


@pytest.mark.parametrize(
    ("profile", "location"),
    [(T4, "westus"), (T4, "westus2"), (T4, "centralindia"), (None, "canadacentral")],
)
def test_regions_the_docs_list_for_the_gpu_pass_without_a_word(
    pulumi_mocks, warnings, profile, location
) -> None:
    run = run_program({"gpuProfile": profile} if profile else {}, location=location)
    assert run.value("LOCATION") == location
    assert warnings == []


@pytest.mark.parametrize("location", ["westeurope", "Central India", "westus2"])
def test_region_the_docs_say_lacks_the_gpu_is_rejected_before_any_resource(
    pulumi_mocks, location
) -> None:
    with pytest.raises(SettingsError) as err:
        run_program({}, location=location)  # serverless A100: "No" in these rows
    message = str(err.value)
    assert f"azure-native:location = {location.replace(' ', '').lower()!r}" in message
    assert "gpu-serverless-overview" in message and "not offered there" in message
    assert "swedencentral" in message and "skipRegionCheck" in message
    assert not [r for r in pulumi_mocks.resources if r.typ.startswith("azure-native:")]


def test_skip_region_check_lets_a_newer_region_through(pulumi_mocks) -> None:
    run = run_program({"skipRegionCheck": True}, location="westeurope")
    assert run.value("LOCATION") == "westeurope"


def test_region_missing_from_the_table_only_warns(pulumi_mocks, warnings) -> None:
    run = run_program({}, location="East US 2")
    assert run.value("LOCATION") == "eastus2"
    [warning] = warnings
    assert "'eastus2'" in warning and "does not list this region" in warning


def test_dedicated_profile_outside_the_listed_regions_only_warns(pulumi_mocks, warnings) -> None:
    # The docs list where NC*-A100 is (West US 3, North Europe), never where it is absent.
    run = run_program({"gpuProfile": "NC24-A100"}, location="swedencentral")
    assert run.value("LOCATION") == "swedencentral"
    assert len(warnings) == 1 and "NC24-A100" in warnings[0]


def test_west_europe_t4_in_an_existing_environment_warns_it_needs_a_new_one(
    pulumi_mocks, warnings
) -> None:
    existing = {"existingEnvironment": True, "acaEnvironmentName": "shared-env"}
    run_program({"gpuProfile": T4, **existing}, location="westeurope")
    assert any("newly created" in w for w in warnings), warnings


def test_west_europe_t4_in_a_new_environment_passes_without_a_word(pulumi_mocks, warnings) -> None:
    run_program({"gpuProfile": T4}, location="westeurope")
    assert warnings == []


def test_a_typo_is_caught_from_the_config_the_language_host_passes(pulumi_mocks, monkeypatch):
    # `pulumi up` hands the program its config as PULUMI_CONFIG; nothing else is set here.
    pulumi.runtime.set_all_config({})
    config = {"ftk:gpuProfle": "NC24-A100", "azure-native:location": "swedencentral"}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
    with pytest.raises(SettingsError, match="ftk:gpuProfle is not a key ftk reads"):
        load_settings()


def test_the_program_reads_no_private_pulumi_module() -> None:
    for path in (ROOT / "stacks").glob("*.py"):
        text = path.read_text()
        assert "runtime.config." not in text and "CONFIG.get()" not in text, path


def test_the_app_port_cannot_be_the_startup_probes(pulumi_mocks) -> None:
    from stacks.settings import SettingsError

    with pytest.raises(SettingsError, match=r"inferencePort.*startup probe"):
        load({"inferencePort": 8079})


def test_an_error_about_a_secret_key_never_shows_its_value() -> None:
    from contract.stack_config import StackConfig

    reader = StackConfig.from_values({"ftk:jobSecrets": "hf_abcdef123456"}, "ftk")
    message = str(reader.fail("jobSecrets", "hf_abcdef123456", "must be an object"))
    assert "hf_abcdef123456" not in message
    assert message == "ftk:jobSecrets is invalid: must be an object."
    shown = str(reader.fail("inferencePort", "eighty", "must be a whole number"))
    assert "'eighty'" in shown  # other keys still show what was wrong
