"""The worked-example stack files build under mocks, and every config key is documented as the
table of keys (contract/stack_config.py) says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract import outputs as keys
from contract import stack_config
from contract.stack_config import KEYS, TABLE
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
    documented = project["template"]["config"]
    assert set(documented) - {stack_config.PROVIDER_LOCATION} == set(KEYS)
    for key, spec in documented.items():
        assert spec.get("description"), f"Pulumi.yaml: {key} has no description"
        # A default here would be a second copy of the one in the table.
        assert "default" not in spec, f"Pulumi.yaml: {key} repeats its default"


def test_pulumi_yaml_config_is_the_table_of_keys() -> None:
    """Kind, description and secret flag of every key in Pulumi.yaml are the table's."""
    documented = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["template"]["config"]
    expected = stack_config.pulumi_yaml_config()
    stale = {k: v for k, v in expected.items() if documented.get(k) != v}
    assert not stale, (
        "Pulumi.yaml's template.config differs from contract/stack_config.py; write these "
        f"entries:\n{yaml.safe_dump(stale, sort_keys=False, width=1000)}"
    )


def _readme_rows() -> dict[str, tuple[str, str]]:
    """README's stack config reference: key -> (default cell, rule cell)."""
    text = (ROOT / "README.md").read_text()
    reference = text[text.index("## Stack config reference") :]
    reference = reference[: reference.index("\n## ", 1)]
    rows = {}
    for line in reference.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        found = re.fullmatch(r"`([A-Za-z:-]+)`", cells[0]) if len(cells) >= 3 else None
        if found:
            rows[found.group(1)] = (cells[1], " | ".join(cells[2:]))
    return rows


def test_readme_config_reference_documents_every_key() -> None:
    missing = [k for k in KEYS if k not in _readme_rows()]
    assert not missing, f"README.md's stack config reference does not document: {missing}"


def _shown(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


SCALARS = [k for k in TABLE if k.kind != stack_config.LIST]


@pytest.mark.parametrize("key", SCALARS, ids=lambda k: k.name)
def test_readme_defaults_bounds_and_choices_are_the_tables(key: stack_config.Key) -> None:
    default, rule = _readme_rows()[key.name]
    if key.default is not None:
        assert default.startswith(f"`{_shown(key.default)}`"), (
            f"README.md: `{key.name}` defaults to `{_shown(key.default)}` (the table's), not "
            f"{default}"
        )
    if key.lo is not None and key.name != "inferenceMinReplicas":
        assert rule.startswith(f"{key.lo}-{key.hi}"), f"README.md: `{key.name}` {rule!r}"
    for choice in key.choices:
        assert f"`{choice}`" in rule, f"README.md: `{key.name}` does not name `{choice}`"
