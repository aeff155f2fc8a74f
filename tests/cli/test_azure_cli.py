"""The `ftk` verbs end to end on the Azure fake: `--infra` AI Toolkit files, real SDK clients,
FTK_AZURE_* endpoints, the credential patched to the fake's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError
from click.testing import CliRunner

from cli.app import App
from cli.main import cli
from cli.targets.azure import clients as azure_clients
from testkit.fakes.azure import FakeAzure, replica_claims
from testkit.fakes.pulumi_cli import PulumiCalls


@pytest.fixture
def ftk(fake_azure: FakeAzure, infra_files: list[Path], project: Path, monkeypatch):  # type: ignore[no-untyped-def]
    """Run `ftk --infra ... --project-dir PROJECT ARGS...` against the fake."""
    monkeypatch.setattr(azure_clients, "default_credential", lambda: fake_azure.credential)

    def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        infra = [a for f in infra_files for a in ("--infra", str(f))]
        return CliRunner().invoke(
            cli,
            [*infra, "--project-dir", str(project), *args],
            input=input,
            env=fake_azure.env(),
        )

    return run


def test_outputs_show_the_infra_target_without_secrets(ftk, fake_azure: FakeAzure):
    result = ftk("outputs", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["target"] == "infra" and data["ACA_JOB_NAME"] == fake_azure.JOB
    assert "sk-fake" not in result.output


def test_sync_then_noop(ftk, fake_azure: FakeAzure):
    first = ftk("sync", "--json")
    assert first.exit_code == 0, first.output
    uploaded = json.loads(first.stdout)["uploaded"]
    assert "finetuning/tiny.yaml" in uploaded and "data/train.jsonl" in uploaded
    assert fake_azure.files.read("ftk", "data/train.jsonl").startswith(b'{"messages"')
    again = json.loads(ftk("sync", "--json").stdout)
    assert again["uploaded"] == [] and again["bytes"] == 0


def test_run_starts_an_execution_for_the_run(ftk, fake_azure: FakeAzure):
    result = ftk("run", "finetuning/tiny.yaml", "--run-id", "tiny-1", "--json")
    assert result.exit_code == 0, result.output
    assert fake_azure.files.read("ftk", "runs/tiny-1/config.yaml").startswith(b"model:")
    (execution,) = fake_azure.arm.executions
    assert execution.name in result.stdout
    assert replica_claims(fake_azure, execution.name) == "tiny-1"

    ps = ftk("ps", "--json")
    assert ps.exit_code == 0, ps.output
    [row] = json.loads(ps.stdout)
    assert row["name"] == execution.name and row["run_id"] == "tiny-1"


def test_concurrent_runs_each_get_their_own_execution_and_run(
    fake_azure: FakeAzure, infra_files: list[Path], project: Path
):
    """Issue 10 finding 1: two `ftk run`s back to back, each execution trains its own run."""
    from cli.targets.aca import AzureTarget

    target = AzureTarget.from_infra_files(infra_files, connection=fake_azure.connection())
    app = App.with_target(target, project)

    def ftk(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, list(args), obj=app)

    one = ftk("run", "finetuning/tiny.yaml", "--run-id", "run-1", "--json")
    two = ftk("run", "finetuning/tiny.yaml", "--run-id", "run-2", "--json")
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    names = [json.loads(r.stdout)["execution"] for r in (one, two)]
    assert len(set(names)) == 2
    claimed = {name: replica_claims(fake_azure, name) for name in reversed(names)}
    assert sorted(claimed.values()) == ["run-1", "run-2"]
    assert replica_claims(fake_azure, "a-third-execution") is None  # nothing left to take
    rows = {r["name"]: r["run_id"] for r in json.loads(ftk("ps", "--json").stdout)}
    assert rows == claimed


def test_a_second_ftk_run_in_a_new_process_writes_into_existing_folders(ftk):
    assert ftk("run", "finetuning/tiny.yaml", "--run-id", "run-1").exit_code == 0
    second = ftk("run", "finetuning/tiny.yaml", "--run-id", "run-2", "--no-sync")
    assert second.exit_code == 0, second.output


def test_logs_and_stop(ftk, fake_azure: FakeAzure):
    execution = fake_azure.arm.add_execution("ftk-dev-job-aaa", "r1", finish_when_drained=None)
    execution.lines = ["loading model", "step 1"]
    result = ftk("logs", execution.name)
    assert result.exit_code == 0, result.output
    assert "loading model\nstep 1" in result.stdout
    assert "portal.azure.com" in result.stderr

    stopped = ftk("stop", execution.name)
    assert stopped.exit_code == 0, stopped.output
    assert execution.status == "Stopped"


def test_logs_follow_exit_code_is_the_outcome(ftk, fake_azure: FakeAzure):
    execution = fake_azure.arm.add_execution("ftk-dev-job-bbb", "r1")
    execution.lines = ["a", "b"]
    fake_azure.files.put("ftk", "runs/r1/status", b"succeeded\n")  # as training leaves it
    fake_azure.arm.stream_plan = [{"drop_after": 1}]
    result = ftk("logs", execution.name, "-f")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("a\n") == 1 and "b\n" in result.stdout


def test_ctrl_c_during_logs_follow(ftk, fake_azure: FakeAzure, monkeypatch):
    from cli.targets.aca import logs as azure_logs

    execution = fake_azure.arm.add_execution("ftk-dev-job-ccc", "r1", finish_when_drained=None)
    execution.lines = ["one", "two", "three"]
    real = azure_logs.parse_line
    calls = []

    def interrupted(raw: str):  # type: ignore[no-untyped-def]
        calls.append(raw)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C arrives while reading the stream
        return real(raw)

    monkeypatch.setattr(azure_logs, "parse_line", interrupted)
    result = ftk("logs", execution.name, "-f")
    assert result.exit_code == 130, result.output
    assert f"ftk logs {execution.name} -f" in result.output
    assert execution.status == "Running"
    assert fake_azure.server.requests_matching("/stop") == []


def test_history_since(ftk, fake_azure: FakeAzure, infra_files: list[Path]):
    fake_azure.arm.log_rows["ContainerAppConsoleLogs_CL"].append(
        {
            "TimeGenerated": "2026-01-01T10:00:00Z",
            "_timestamp_d": 1767261600.0,
            "ContainerJobName_s": fake_azure.JOB,
            "ContainerGroupName_s": "e1-abcde",
            "Log_s": "old line",
        }
    )
    fake_azure.arm.add_execution("e1", "r1", status="Succeeded")
    # The AI Toolkit's files name no Log Analytics workspace: a clear usage error.
    result = ftk("logs", "e1", "--since", "2h")
    assert result.exit_code == 2 and "LOG_ANALYTICS_NAME" in result.output
    data = json.loads(infra_files[0].read_text())
    infra_files[0].write_text(json.dumps({**data, "LOG_ANALYTICS_NAME": "ftk-logs"}))
    result = ftk("logs", "e1", "--since", "2h")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2026-01-01 10:00:00 old line"


def test_logs_tail_beyond_300_is_refused_before_any_stream(ftk, fake_azure: FakeAzure):
    fake_azure.arm.add_execution("e1", "r1")
    result = ftk("logs", "e1", "--tail", "500")
    assert result.exit_code == 2
    assert "0<=x<=300" in result.output or "300" in result.output
    assert fake_azure.arm.stream_connections == 0


def test_secret_set_reads_stdin_and_never_echoes(ftk, fake_azure: FakeAzure):
    result = ftk("secret", "set", "WANDB_API_KEY", input="wb-very-secret\n")
    assert result.exit_code == 0, result.output
    assert "wb-very-secret" not in result.output
    assert fake_azure.arm.job_secrets["wandb-api-key"] == "wb-very-secret"
    listed = ftk("secret", "list", "--json")
    assert json.loads(listed.stdout) == ["HF_TOKEN", "WANDB_API_KEY"]
    assert "hf_fake_value" not in listed.output


def test_deploy_and_endpoint(ftk, fake_azure: FakeAzure):
    files = fake_azure.files
    files.dirs["ftk"].update({"runs", "runs/r9", "runs/r9/adapter"})
    adapter = json.dumps({"base_model_name_or_path": "microsoft/Phi-3-mini-4k-instruct"})
    files.files["ftk"]["runs/r9/adapter/adapter_config.json"] = bytearray(adapter.encode())
    # --wait 0: the fake app's FQDN is not served (waking the app is in test_azure_chat.py)
    result = ftk("deploy", "r9", "--no-sync", "--json", "--wait", "0")
    assert result.exit_code == 0, result.output
    env = fake_azure.arm.apps[fake_azure.APP]["properties"]["template"]["containers"][0]["env"]
    assert {"name": "FTK_ADAPTER", "value": "r9=/mount/runs/r9/adapter"} in env
    assert "sk-fake-endpoint-key" not in result.output

    shown = ftk("endpoint", "--json", "--show-key", "--wait", "0")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["api_key"] == "sk-fake-endpoint-key"


def test_missing_credentials_exit_4_with_hint(ftk, fake_azure: FakeAzure):
    fake_azure.credential.error = ClientAuthenticationError("EnvironmentCredential unavailable")
    result = ftk("ps")
    assert result.exit_code == 4
    assert "az login" in result.output
    assert "Traceback" not in result.output


def test_missing_permission_exit_4_names_role(ftk, fake_azure: FakeAzure):
    fake_azure.arm.deny.add("/listSecrets")
    result = ftk("secret", "set", "X_TOKEN", input="v\n")
    assert result.exit_code == 4
    assert "Container Apps Contributor" in result.output


def test_null_in_config_file_exit_2(ftk, fake_azure: FakeAzure, infra_files: list[Path]):
    data = json.loads(infra_files[0].read_text())
    infra_files[0].write_text(json.dumps({**data, "ACA_JOB_NAME": None}))
    result = ftk("ps")
    assert result.exit_code == 2
    assert "ACA_JOB_NAME is null in" in result.output and "finetuning.config.json" in result.output


def test_stack_target_secret_and_outputs(
    fake_azure: FakeAzure, project: Path, monkeypatch, fake_pulumi: PulumiCalls
):
    from cli.targets.azure import stack as stack_outputs
    from testkit.fakes.pulumi_auto import FakeAuto

    (project / "Pulumi.yaml").write_text("name: ftk\nruntime: python\n")
    auto = FakeAuto(fake_azure.outputs())
    monkeypatch.setattr(stack_outputs, "_automation", lambda: auto)
    monkeypatch.setattr(azure_clients, "default_credential", lambda: fake_azure.credential)

    def ftk_stack(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(
            cli, ["--project-dir", str(project), *args], input=input, env=fake_azure.env()
        )

    shown = ftk_stack("outputs", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["target"] == "stack"
    assert "sk-fake-endpoint-key" not in shown.output

    result = ftk_stack("secret", "set", "HF_TOKEN", "--apply", input="hf_value\n")
    assert result.exit_code == 0, result.output
    [call] = fake_pulumi.all()
    assert call["stdin"] == "hf_value" and "jobSecrets.HF_TOKEN" in call["argv"]
    assert "--secret" in call["argv"] and "hf_value" not in call["argv"]
    assert auto.ups == 1 and "hf_value" not in result.output
    # The job itself is changed by `pulumi up`, not by ftk.
    assert fake_azure.arm.job_secrets == {"hf-token": "hf_fake_value"}
