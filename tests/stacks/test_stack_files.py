"""The worked-example stack files build under mocks, and every config key is documented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from contract import outputs as keys
from stacks.settings import KEYS
from testkit.fakes.pulumi_mocks import run_program

ROOT = Path(__file__).resolve().parents[2]


def stack_file_config(stack: str) -> tuple[dict[str, Any], str | None]:
    """(project keys -> value, azure-native:location) as `pulumi up` would pass them."""
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    location = config.pop("azure-native:location", None)
    assert all(k.startswith("ftk:") for k in config), f"Pulumi.{stack}.yaml: unknown namespace"
    # Pulumi hands scalars over as strings and structured values as JSON.
    return {
        k.removeprefix("ftk:"): v if isinstance(v, str) else json.dumps(v)
        for k, v in config.items()
    }, location


def test_dev_stack_builds_a_serverless_a100_that_scales_to_zero(pulumi_mocks) -> None:
    config, location = stack_file_config("dev")
    run = run_program(config, location=location)
    env = pulumi_mocks.one("azure-native:app:ManagedEnvironment")
    gpu = next(p for p in env.inputs["workloadProfiles"] if p["name"] == "GPU")
    assert gpu["workloadProfileType"] == "Consumption-GPU-NC24-A100"
    app = pulumi_mocks.one("azure-native:app:ContainerApp")
    assert app.inputs["template"]["scale"]["minReplicas"] == 0
    assert pulumi_mocks.one("azure-native:resources:ResourceGroup")
    assert run.value(keys.LOCATION) == "swedencentral"


def test_prod_stack_uses_another_region_a_dedicated_profile_and_an_existing_group(
    pulumi_mocks,
) -> None:
    config, location = stack_file_config("prod")
    run = run_program(config, location=location)
    assert not pulumi_mocks.of_type("azure-native:resources:ResourceGroup")
    calls = pulumi_mocks.invoked("azure-native:resources:getResourceGroup")
    assert calls == [{"resourceGroupName": "ml-platform-prod"}]
    env = pulumi_mocks.one("azure-native:app:ManagedEnvironment")
    gpu = next(p for p in env.inputs["workloadProfiles"] if p["name"] == "GPU")
    assert (gpu["workloadProfileType"], gpu["minimumCount"], gpu["maximumCount"]) == (
        "NC24-A100",
        0,
        2,
    )
    assert env.inputs["tags"]["cost-center"] == "ml-platform"
    assert run.value(keys.LOCATION) == "westus3"
    assert run.value(keys.RESOURCE_GROUP_NAME) == "ml-platform-prod"


def test_pulumi_yaml_documents_exactly_the_keys_ftk_reads() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "ftk" and project["runtime"]["name"] == "python"
    documented = set(project["template"]["config"]) - {"azure-native:location"}
    assert documented == set(KEYS)
    for key, spec in project["template"]["config"].items():
        assert spec.get("description"), f"Pulumi.yaml: {key} has no description"
        # A default here would be a second copy of the one in stacks/settings.py.
        assert "default" not in spec, f"Pulumi.yaml: {key} repeats its default"


def test_readme_config_reference_documents_every_key() -> None:
    text = (ROOT / "README.md").read_text()
    reference = text[text.index("## Stack config reference") :]
    missing = [k for k in KEYS if f"`{k}`" not in reference]
    assert not missing, f"README.md's stack config reference does not document: {missing}"
