"""Job executions on the fake ARM through azure-mgmt-appcontainers: start, list, stop, status
mapping, and the faults a user meets (credentials, permissions, missing job, throttling)."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import ClientAuthenticationError

from cli.errors import AuthError, FtkError, NotFoundError, UnavailableError, UsageError
from cli.targets.base import ExecutionStatus
from testkit.fakes.azure import FakeAzure, replica_claims, target_from_outputs


def test_an_execution_runs_the_job_template_so_it_keeps_the_share(
    azure_target, fake_azure: FakeAzure
):
    """Issue 10 finding 1: a start override replaces the whole template and an execution
    template has no volumeMounts, so an execution started with one lost the share. ftk starts
    with no override and passes the run through a request on the share."""
    execution = azure_target.start_execution("phi3-0001", env={"EXTRA": "1"})
    assert execution.run_id == "phi3-0001"
    assert execution.status == ExecutionStatus.QUEUED
    assert execution.portal_url and fake_azure.JOB in execution.portal_url

    job = fake_azure.arm.jobs[fake_azure.JOB]["properties"]["template"]
    effective = fake_azure.arm.execution(execution.name).template
    assert effective == job  # the job's own template: nothing replaced, nothing dropped
    assert effective["containers"][0]["volumeMounts"] == [
        {"volumeName": "share", "mountPath": "/mount"}
    ]
    assert effective["volumes"][0]["storageType"] == "AzureFile"

    [pending] = list(azure_target.share().list_files(".ftk/requests"))
    request = json.loads(azure_target.share().read_bytes(pending.path))
    assert request["run_id"] == "phi3-0001" and request["env"] == {"EXTRA": "1"}


def test_each_execution_trains_the_run_it_was_started_for(azure_target, fake_azure: FakeAzure):
    """Issue 20 findings 1-3: a request is keyed by its execution, so replicas starting in any
    order each train their own run, and queued executions already show it."""
    first = azure_target.start_execution("run-a")
    second = azure_target.start_execution("run-b")
    assert first.name != second.name
    queued = {e.name: e.run_id for e in azure_target.executions()}
    assert queued == {first.name: "run-a", second.name: "run-b"}
    assert replica_claims(fake_azure, second.name) == "run-b"  # started first, takes its own
    assert replica_claims(fake_azure, first.name) == "run-a"
    runs = {e.name: e.run_id for e in azure_target.executions()}
    assert runs == {first.name: "run-a", second.name: "run-b"}
    assert azure_target.get_execution(second.name).run_id == "run-b"


def test_stopping_a_queued_execution_removes_its_request(azure_target, fake_azure: FakeAzure):
    execution = azure_target.start_execution("r1")
    assert fake_azure.files.paths("ftk") == [f".ftk/requests/{execution.name}.json"]
    azure_target.stop_execution(execution.name)
    assert fake_azure.files.paths("ftk") == []


def test_a_request_that_cannot_be_written_stops_its_execution(azure_target, fake_azure: FakeAzure):
    """Without its request the execution would wait and fail: it is stopped at once."""
    fake_azure.faults.fail(f"PUT /{fake_azure.ACCOUNT}/ftk/.ftk/requests/", 500, times=50)
    with pytest.raises(FtkError):
        azure_target.start_execution("r1")
    [execution] = fake_azure.arm.executions
    assert execution.status == "Stopped"


def test_a_failed_start_leaves_no_request_behind(azure_target, fake_azure: FakeAzure):
    fake_azure.faults.fail("POST /subscriptions", 400, times=1)
    with pytest.raises(FtkError):
        azure_target.start_execution("r1")
    assert list(azure_target.share().list_files(".ftk/requests")) == []
    assert fake_azure.arm.executions == []


def test_a_job_from_an_older_stack_asks_for_pulumi_up(azure_target, fake_azure: FakeAzure):
    container = fake_azure.arm.jobs[fake_azure.JOB]["properties"]["template"]["containers"][0]
    container["command"] = ["bash", "-c", "python -m training --config runs/$FTK_RUN_ID/c.yaml"]
    with pytest.raises(UsageError, match="FTK_RUN_ID") as info:
        azure_target.start_execution("r1")
    assert "pulumi up" in (info.value.hint or "")
    assert fake_azure.arm.executions == []


def test_infra_job_command_becomes_ftks_once_keeping_share_and_secrets(
    infra_target, fake_azure: FakeAzure
):
    job = fake_azure.arm.jobs[fake_azure.JOB]["properties"]
    toolkit = ["bash", "-c", "cd /mount; python3 ./finetuning/invoke_olive.py"]
    job["template"]["containers"][0]["command"] = toolkit

    first = infra_target.start_execution("r1")
    [note] = first.notes
    assert "changed the command of job" in note
    container = job["template"]["containers"][0]
    assert container["command"][:2] == ["bash", "-c"]
    assert 'python -m training claim --workspace "$MOUNT_PATH"' in container["command"][2]
    assert container["volumeMounts"] == [{"volumeName": "share", "mountPath": "/mount"}]
    env = {e["name"]: e for e in container["env"]}
    assert env["HF_TOKEN"] == {"name": "HF_TOKEN", "secretRef": "hf-token"}
    assert env["FTK_MODEL_CACHE"]["value"] == "/mount/model-cache"
    assert fake_azure.arm.job_secrets == {"hf-token": "hf_fake_value"}
    started = fake_azure.arm.execution(first.name).template
    assert started["containers"][0]["volumeMounts"] == container["volumeMounts"]

    second = infra_target.start_execution("r2")
    assert second.notes == ()  # changed once; later starts change nothing


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
