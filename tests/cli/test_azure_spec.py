"""The fake ARM follows the vendored Microsoft.App spec: it refuses bodies the spec does not
allow, and an execution started with a template override runs with that template only."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import HttpResponseError

from testkit.fakes.azure import FakeAzure
from testkit.fakes.openapi import SPEC_DIR, validate


def test_the_fake_refuses_a_property_the_spec_lacks(azure_target, fake_azure: FakeAzure):
    # JobExecutionContainer has no volumeMounts (microsoft/azure-container-apps#909).
    template = {
        "containers": [
            {
                "name": "finetune",
                "image": "img",
                "volumeMounts": [{"volumeName": "share", "mountPath": "/mount"}],
            }
        ]
    }
    with pytest.raises(HttpResponseError) as info:
        azure_target.deployment.apps.jobs.begin_start(
            fake_azure.RESOURCE_GROUP, fake_azure.JOB, template=template
        ).result()
    assert info.value.status_code == 400
    assert fake_azure.arm.executions == []
    assert any("'volumeMounts' is not in the spec" in v for v in fake_azure.arm.spec_violations)
    fake_azure.arm.spec_violations.clear()  # provoked on purpose


def test_a_typo_in_a_patch_body_is_refused(azure_target, fake_azure: FakeAzure):
    body = {
        "properties": {
            "configuration": {"triggerType": "Manual", "replicaTimeout": 60, "secret": []}
        }
    }
    with pytest.raises(HttpResponseError):
        azure_target.deployment.apps.jobs.begin_update(
            fake_azure.RESOURCE_GROUP, fake_azure.JOB, body
        ).result()
    assert fake_azure.arm.spec_violations == [
        "Jobs_Update body: JobPatchProperties.properties.configuration: "
        "property 'secret' is not in the spec"
    ]
    fake_azure.arm.spec_violations.clear()


def test_validator_follows_refs_allof_and_additional_properties():
    job = {
        "location": "swedencentral",
        "tags": {"any-name": "ok"},  # additionalProperties: string
        "properties": {
            "template": {"containers": [{"name": "c", "probes": [], "volumeMounts": []}]}
        },
    }
    assert (
        validate(job, "Job") == []
    )  # probes from Container, volumeMounts from BaseContainer (allOf)
    assert validate({**job, "tags": {"n": 1}}, "Job") == ["Job.tags.n: expected string, got int"]
    assert validate({"properties": {}}, "Job") == ["Job: missing required property 'location'"]
    assert validate({"properties": {}}, "Job", check_required=False) == []


def test_an_override_runs_without_the_jobs_volumes(azure_target, fake_azure: FakeAzure):
    """What the platform does with a start override (the fake, from the docs): the override is
    the whole template, so the job's volumes are gone. ftk therefore never sends one."""
    template = {
        "containers": [
            {
                "name": "finetune",
                "image": "img",
                "env": [{"name": "HF_TOKEN", "secretRef": "hf-token"}],
            }
        ]
    }
    poller = azure_target.deployment.apps.jobs.begin_start(
        fake_azure.RESOURCE_GROUP, fake_azure.JOB, template=template
    )
    started = fake_azure.arm.execution(poller.result().name)
    assert started.template.get("volumes") is None
    assert not started.mounted("/mount")
    env = {e["name"]: e for e in started.template["containers"][0]["env"]}
    assert env["HF_TOKEN"] == {"name": "HF_TOKEN", "secretRef": "hf-token"}  # refs as given


def test_a_run_execution_has_the_share_mounted(azure_target, fake_azure: FakeAzure):
    execution = azure_target.start_execution("r1")
    assert fake_azure.arm.execution(execution.name).mounted("/mount")


_EXAMPLES = SPEC_DIR / "examples"


@pytest.mark.parametrize(
    ("example", "where", "definition", "partial"),
    [
        ("Job_Get.json", ("responses", "200", "body"), "Job", False),
        (
            "Job_Executions_Get.json",
            ("responses", "200", "body"),
            "ContainerAppJobExecutions",
            False,
        ),
        ("Job_ListSecrets.json", ("responses", "200", "body"), "JobSecretsCollection", False),
        ("Job_Patch.json", ("parameters", "JobEnvelope"), "JobPatchProperties", True),
        ("Job_Patch.json", ("responses", "200", "body"), "Job", False),
        ("Jobs_Start.request.json", (), "JobExecutionTemplate", False),
    ],
)
def test_microsofts_examples_pass_the_vendored_definitions(example, where, definition, partial):
    data = json.loads((_EXAMPLES / example).read_text())
    for key in where:
        data = data[key]
    assert validate(data, definition, check_required=not partial) == []


def test_the_fakes_answers_keep_the_examples_shape(azure_target, fake_azure: FakeAzure):
    """Every key the fake answers with appears in Microsoft's example of that answer."""
    fake_azure.arm.add_execution("e1", "r1", status="Succeeded", start_time="2026-01-01T00:00:00Z")
    job = azure_target.deployment.apps.jobs.get(fake_azure.RESOURCE_GROUP, fake_azure.JOB).as_dict()
    listed = [
        e.as_dict()
        for e in azure_target.deployment.apps.jobs_executions.list(
            fake_azure.RESOURCE_GROUP, fake_azure.JOB
        )
    ]
    example_job = json.loads((_EXAMPLES / "Job_Get.json").read_text())["responses"]["200"]["body"]
    example_list = json.loads((_EXAMPLES / "Job_Executions_Get.json").read_text())
    example_execution = example_list["responses"]["200"]["body"]["value"][0]
    assert set(job) <= set(example_job)
    assert set(job["properties"]["configuration"]) - {"secrets"} <= set(
        example_job["properties"]["configuration"]
    )
    for execution in listed:
        assert set(execution) <= set(example_execution) | {"type"}
        assert set(execution["properties"]) <= set(example_execution["properties"])
