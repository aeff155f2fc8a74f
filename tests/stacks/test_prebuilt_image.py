"""`prebuiltImage: true`: ACR builds the image with the dependencies baked in, and the job and
the app pull it with a user-assigned identity holding AcrPull; no admin credentials anywhere."""

from __future__ import annotations

import pytest

from stacks.registry import ACR_PULL_ROLE, image_tag
from stacks.settings import SettingsError
from testkit.fakes.pulumi_mocks import (
    PULL_PRINCIPAL,
    SUBSCRIPTION,
    build_stack,
    reveal,
    run_program,
)

REGISTRY = "azure-native:containerregistry:Registry"
TASK_RUN = "azure-native:containerregistry:TaskRun"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE = "azure-native:authorization:RoleAssignment"
JOB = "azure-native:app:Job"
APP = "azure-native:app:ContainerApp"
SOURCE = "https://github.com/you/ftk.git#main"
ON = {"prebuiltImage": True, "prebuiltImageSource": SOURCE}


def test_off_by_default_no_registry_and_the_public_image(pulumi_mocks) -> None:
    run_program({})
    types = {r.typ for r in pulumi_mocks.resources}
    assert not types & {REGISTRY, TASK_RUN, IDENTITY, ROLE}
    job = pulumi_mocks.one(JOB).inputs
    assert "registries" not in job["configuration"] and "identity" not in job
    assert reveal(job["template"])["containers"][0]["image"].startswith("docker.io/pytorch/")


def test_registry_builds_the_locked_image_from_the_remote_context(pulumi_mocks) -> None:
    run_program({**ON, "image": "docker.io/pytorch/pytorch:2.8.0-cuda12.8-cudnn9-devel"})
    registry = pulumi_mocks.one(REGISTRY)
    assert registry.inputs["adminUserEnabled"] is False, pulumi_mocks.urn(registry)
    assert registry.inputs["sku"] == {"name": "Basic"}
    run = pulumi_mocks.one(TASK_RUN).inputs
    request = run["runRequest"]
    assert request["type"] == "DockerBuildRequest" and request["sourceLocation"] == SOURCE
    assert request["dockerFilePath"] == "Dockerfile" and request["isPushEnabled"] is True
    assert request["imageNames"] == [f"ftk:{image_tag()}"]
    assert request["arguments"] == [
        {
            "name": "BASE",
            "value": "docker.io/pytorch/pytorch:2.8.0-cuda12.8-cudnn9-devel",
            "isSecret": False,
        }
    ]
    assert run["forceUpdateTag"] == image_tag(), "a changed lock must re-run the build"


def test_job_and_app_pull_it_with_an_identity_holding_acr_pull(pulumi_mocks) -> None:
    run_program({**ON, "inferenceEngine": "transformers"})
    registry = pulumi_mocks.one(REGISTRY)
    server = f"{registry.inputs['registryName']}.azurecr.io"
    role = pulumi_mocks.one(ROLE).inputs
    assert role["principalId"] == PULL_PRINCIPAL and role["principalType"] == "ServicePrincipal"
    assert role["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
        f"{ACR_PULL_ROLE}"
    )
    assert role["scope"].endswith(f"/fake/{pulumi_mocks.one(REGISTRY).name}")
    identity_id = f"/subscriptions/{SUBSCRIPTION}/fake/{pulumi_mocks.one(IDENTITY).name}"
    for typ in (JOB, APP):
        r = pulumi_mocks.one(typ)
        inputs = reveal(r.inputs)
        assert inputs["identity"] == {
            "type": "UserAssigned",
            "userAssignedIdentities": [identity_id],
        }, pulumi_mocks.urn(r)
        assert inputs["configuration"]["registries"] == [
            {"server": server, "identity": identity_id}
        ], pulumi_mocks.urn(r)
        image = inputs["template"]["containers"][0]["image"]
        assert image == f"{server}/ftk:{image_tag()}", pulumi_mocks.urn(r)
        assert "passwordSecretRef" not in str(inputs), "no registry password anywhere"


def test_every_registry_resource_sits_under_its_component(pulumi_mocks) -> None:
    run_program(ON)
    for typ in (REGISTRY, TASK_RUN, IDENTITY, ROLE):
        r = pulumi_mocks.one(typ)
        urn = pulumi_mocks.urn(r)
        assert "ftk:azure:ImageRegistry" in urn and r.name.startswith("registry-"), urn


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"prebuiltImage": True}, "needs prebuiltImageSource"),
        ({"prebuiltImage": True, "prebuiltImageSource": "git@github.com:you/ftk"}, "https URL"),
        ({"prebuiltImageSource": SOURCE}, "only read with prebuiltImage true"),
    ],
)
def test_prebuilt_image_needs_a_remote_https_context(pulumi_mocks, config, message) -> None:
    with pytest.raises(SettingsError, match=message):
        build_stack(config)


def test_registry_name_is_letters_and_digits_unique_per_subscription() -> None:
    """ACR names: 5-50 letters and digits, unique across Azure."""
    from stacks.naming import registry_name

    name = registry_name("my-ftk", "dev", SUBSCRIPTION)
    assert name.isalnum() and name.islower() and 5 <= len(name) <= 50
    assert name != registry_name("my-ftk", "dev", "another-subscription")
    assert 5 <= len(registry_name("a", "b", SUBSCRIPTION)) <= 50
    assert len(registry_name("p" * 60, "s" * 60, SUBSCRIPTION)) == 50


def test_a_vllm_app_keeps_vllms_image_while_the_job_pulls_the_prebuilt_one(pulumi_mocks) -> None:
    """vLLM runs its own server image (nothing to install at start), so only the job pulls ours."""
    run_program({**ON, "inferenceEngine": "vllm"})
    server = f"{pulumi_mocks.one(REGISTRY).inputs['registryName']}.azurecr.io"
    job = reveal(pulumi_mocks.one(JOB).inputs)
    assert job["template"]["containers"][0]["image"] == f"{server}/ftk:{image_tag()}"
    app = reveal(pulumi_mocks.one(APP).inputs)
    assert app["template"]["containers"][0]["image"].startswith("docker.io/vllm/vllm-openai:")
    assert "identity" not in app and not app["configuration"].get("registries")


def test_a_new_acr_pull_grant_is_given_time_to_take_effect(pulumi_mocks, monkeypatch) -> None:
    """Issue 20 finding 5: role assignments take up to 10 minutes; the job and the app name the
    image (and ACA checks the pull) only once the grant is that old."""
    from datetime import UTC, datetime, timedelta

    import stacks.registry as registry

    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(registry, "_sleep", record)
    made = datetime.now(UTC) - timedelta(seconds=120)  # the build took two minutes
    pulumi_mocks.role_created_on = made.isoformat()
    run_program({**ON, "inferenceEngine": "transformers"})
    [wait] = waited
    assert 470 < wait <= 480, wait
    assert reveal(pulumi_mocks.one(JOB).inputs["template"])["containers"][0]["image"].endswith(
        f"/ftk:{image_tag()}"
    )


def test_a_long_made_grant_costs_no_wait() -> None:
    from datetime import UTC, datetime

    from stacks.registry import ROLE_PROPAGATION_S, propagation_wait

    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert propagation_wait("2026-12-05T11:00:00Z", now) == 0
    assert propagation_wait("2026-12-05T11:58:00.123456Z", now) == ROLE_PROPAGATION_S - 119.876544
    assert propagation_wait(None, now) == 0
