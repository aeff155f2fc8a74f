"""Job executions on the fake ARM through azure-mgmt-appcontainers: start, list, stop, status
mapping, and the faults a user meets (credentials, permissions, missing job, throttling)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ClientAuthenticationError

from cli.errors import AuthError, NotFoundError, UnavailableError
from cli.targets.base import ExecutionStatus
from tests.fakes.azure import FakeAzure, target_from_outputs
from tests.fakes.azure_fixtures import *  # noqa: F403


def test_start_keeps_the_job_template_and_adds_the_run_id(azure_target, fake_azure: FakeAzure):
    execution = azure_target.start_execution("phi3-0001", env={"EXTRA": "1"})
    assert execution.run_id == "phi3-0001"
    assert execution.status == ExecutionStatus.QUEUED
    assert execution.portal_url and fake_azure.JOB in execution.portal_url

    started = fake_azure.arm.execution(execution.name).template["containers"][0]
    job = fake_azure.arm.jobs[fake_azure.JOB]["properties"]["template"]["containers"][0]
    assert started["image"] == job["image"]
    assert started["resources"] == job["resources"]
    assert started["command"] == job["command"]
    env = {e["name"]: e for e in started["env"]}
    assert env["FTK_RUN_ID"]["value"] == "phi3-0001"
    assert env["EXTRA"]["value"] == "1"
    assert env["MOUNT_PATH"]["value"] == "/mount"
    assert env["HF_TOKEN"] == {"name": "HF_TOKEN", "secretRef": "hf-token"}


def test_infra_job_runs_the_training_entry_point(infra_target, fake_azure: FakeAzure):
    execution = infra_target.start_execution("r1")
    container = fake_azure.arm.execution(execution.name).template["containers"][0]
    assert container["command"][:2] == ["bash", "-c"]
    assert 'python -m training --config "runs/$FTK_RUN_ID/config.yaml"' in container["command"][2]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["FTK_RUN_ID"] == "r1" and env["FTK_MODEL_CACHE"] == "/mount/model-cache"


def test_executions_map_statuses_newest_first(azure_target, fake_azure: FakeAzure):
    arm = fake_azure.arm
    arm.add_execution("e-old", "run-a", status="Succeeded", start_time="2026-01-01T00:00:00Z")
    arm.add_execution("e-fail", "run-b", status="Failed", start_time="2026-01-02T00:00:00Z")
    arm.add_execution("e-budget", "run-c", status="Failed", start_time="2026-01-03T00:00:00Z")
    arm.add_execution("e-stop", "run-d", status="Stopped", start_time="2026-01-04T00:00:00Z")
    arm.add_execution("e-run", "run-e", status="Running", start_time="2026-01-05T00:00:00Z")
    arm.add_execution("e-wait", "run-f", queued_polls=99, start_time="2026-01-06T00:00:00Z")
    # run-c ended on its time budget with a checkpoint: its status file says so.
    azure_target.share().write_bytes("runs/run-c/status", b"resumable\n")

    found = azure_target.executions()
    assert [(e.name, e.run_id, e.status) for e in found] == [
        ("e-wait", "run-f", ExecutionStatus.QUEUED),
        ("e-run", "run-e", ExecutionStatus.RUNNING),
        ("e-stop", "run-d", ExecutionStatus.STOPPED),
        ("e-budget", "run-c", ExecutionStatus.RESUMABLE),
        ("e-fail", "run-b", ExecutionStatus.FAILED),
        ("e-old", "run-a", ExecutionStatus.SUCCEEDED),
    ]
    assert azure_target.get_execution("e-budget").status == ExecutionStatus.RESUMABLE
    assert found[-1].started_at is not None and found[-1].started_at.year == 2026


def test_stop_execution(azure_target, fake_azure: FakeAzure):
    execution = azure_target.start_execution("r1")
    azure_target.stop_execution(execution.name)
    assert fake_azure.arm.execution(execution.name).status == "Stopped"
    assert azure_target.get_execution(execution.name).status == ExecutionStatus.STOPPED


def test_missing_job_and_execution_are_named(fake_azure: FakeAzure):
    target = target_from_outputs(
        fake_azure.outputs(ACA_JOB_NAME="no-such-job"), connection=fake_azure.connection()
    )
    with pytest.raises(NotFoundError, match="job 'no-such-job'"):
        target.executions()
    with pytest.raises(NotFoundError, match="execution 'nope'"):
        target_from_outputs(fake_azure.outputs(), connection=fake_azure.connection()).get_execution(
            "nope"
        )


def test_missing_credentials_say_az_login(azure_target, fake_azure: FakeAzure):
    fake_azure.credential.error = ClientAuthenticationError(
        "DefaultAzureCredential failed to retrieve a token from the included credentials."
    )
    with pytest.raises(AuthError) as info:
        azure_target.executions()
    assert info.value.exit_code == 4
    assert "az login" in (info.value.hint or "")


def test_expired_token_is_an_auth_error(azure_target, fake_azure: FakeAzure):
    fake_azure.arm.auth = "expired"
    with pytest.raises(AuthError, match="credentials") as info:
        azure_target.start_execution("r1")
    assert "az login" in (info.value.hint or "")


def test_missing_permission_names_the_role(azure_target, fake_azure: FakeAzure):
    fake_azure.arm.auth = "forbidden"
    with pytest.raises(AuthError, match="no permission") as info:
        azure_target.start_execution("r1")
    assert "Container Apps Jobs Operator" in (info.value.hint or "")
    assert fake_azure.arm.executions == []


def test_throttling_is_retried_by_the_sdk(azure_target, fake_azure: FakeAzure):
    fake_azure.faults.fail("GET /subscriptions", 429, times=2)
    azure_target.executions()
    assert len(fake_azure.server.requests_matching("/executions?")) == 3


def test_throttling_beyond_retries_is_unavailable(azure_target, fake_azure: FakeAzure):
    fake_azure.faults.fail("GET /subscriptions", 429, times=50)
    with pytest.raises(UnavailableError, match="busy"):
        azure_target.executions()


def test_server_errors_on_start_are_retried(azure_target, fake_azure: FakeAzure):
    fake_azure.faults.fail("/start?", 500, times=1)
    execution = azure_target.start_execution("r1")
    assert len(fake_azure.arm.executions) == 1
    assert fake_azure.arm.executions[0].name == execution.name
