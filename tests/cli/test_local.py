"""`--local` end to end with stand-ins for training and serving: detached executions whose state
lives on disk (so a second LocalTarget, as from another shell, sees them), stop -> resumable,
deploy on loopback, chat through the openai client."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from click.testing import CliRunner

from cli.errors import ExitCode
from cli.main import cli
from cli.targets.base import Capabilities, ExecutionStatus, SecretStore, Target
from cli.targets.local import LocalTarget
from tests.cli.conftest import train_command


def _run_cfg(project: Path) -> str:
    return str(project / "finetuning" / "tiny.yaml")


def test_run_follow_ps_logs_download_from_another_shell(project, local_target, invoke, tmp_path):
    result = invoke(local_target, ["run", _run_cfg(project), "--run-id", "r1", "-f"], project)
    assert result.exit_code == 0, result.output
    share = project / ".ftk" / "local" / "share"
    assert f"fake training r1 in {share}" in result.stdout  # runs from the share, like the job
    assert f"model cache {tmp_path / 'cache'}" in result.stdout
    assert "step 2 loss 1.0" in result.stdout
    assert (share / "training" / "__init__.py").exists()  # synced first
    assert (share / "runs" / "r1" / "config.yaml").exists()

    other_shell = LocalTarget(project)
    [execution] = other_shell.executions()
    assert execution.run_id == "r1" and execution.status == ExecutionStatus.SUCCEEDED
    assert execution.exit_code == 0 and execution.ended_at >= execution.started_at

    rows = json.loads(invoke(other_shell, ["ps", "--json"], project).stdout)
    assert rows[0]["status"] == "succeeded" and rows[0]["estimated_cost"] == 0.0

    logs = invoke(other_shell, ["logs", "--tail", "2"], project)
    assert logs.stdout.splitlines() == ["step 2 loss 1.0", "done"]
    events = invoke(other_shell, ["logs", "--system"], project)
    assert "exited with code 0" in events.stdout
    since = invoke(other_shell, ["logs", "--since", "1h"], project)
    assert "step 1 loss 2.0" in since.stdout and "T" in since.stdout.split()[0]

    down = invoke(other_shell, ["download", "r1"], project)
    assert down.exit_code == 0, down.output
    assert (project / "runs/r1/adapter/adapter_model.safetensors").stat().st_size == 2048
    assert (project / "runs/r1/loss.png").exists()


def test_failed_training_exits_1_with_a_hint(project, tmp_path, invoke):
    target = LocalTarget(project, train_command=train_command("fail"), model_cache=tmp_path)
    result = invoke(target, ["run", _run_cfg(project), "-f"], project)
    assert result.exit_code == ExitCode.FAILED
    assert "Traceback: something broke" in result.stdout
    assert "failed (exit code 1)" in result.stderr and "ftk logs" in result.stderr


def test_stop_makes_training_checkpoint_then_resume_continues(project, tmp_path, invoke):
    waiting = LocalTarget(project, train_command=train_command("wait"), model_cache=tmp_path)
    started = invoke(waiting, ["run", _run_cfg(project), "--run-id", "r1"], project)
    assert started.exit_code == 0, started.output
    name = started.stdout.strip()
    for line in waiting.stream_logs(name, follow=True):
        if line == "waiting for a signal":
            break

    stopped = invoke(LocalTarget(project), ["stop"], project)
    assert stopped.exit_code == 0 and stopped.stdout.strip() == name
    followed = invoke(waiting, ["logs", name, "-f"], project)
    assert followed.exit_code == ExitCode.FAILED
    assert "SIGTERM: saving checkpoint" in followed.stdout and "ftk resume r1" in followed.stderr
    execution = waiting.get_execution(name)
    assert execution.status == ExecutionStatus.STOPPED and execution.exit_code == 75
    assert (project / ".ftk/local/share/runs/r1/status").read_text() == "resumable"

    nothing = invoke(waiting, ["stop"], project)
    assert nothing.exit_code == ExitCode.NOT_FOUND

    finishing = LocalTarget(project, train_command=train_command("succeed"), model_cache=tmp_path)
    resumed = invoke(finishing, ["resume", "r1", "-f"], project)
    assert resumed.exit_code == 0, resumed.output
    assert [e.status for e in finishing.executions()] == [
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.STOPPED,
    ]


def test_an_execution_whose_runner_vanished_is_failed(project):
    state = project / ".ftk/local/executions/r1-x"
    state.mkdir(parents=True)
    meta = {"name": "r1-x", "run_id": "r1", "pid": 2**22 + 12345, "started_at": None}
    (state / "meta.json").write_text(json.dumps(meta))
    assert LocalTarget(project).get_execution("r1-x").status == ExecutionStatus.FAILED


def test_a_runner_stopped_before_it_could_write_its_exit_is_stopped_not_failed(project):
    # `ftk stop` right after `ftk run`: SIGTERM can land before the runner installs its handler.
    state = project / ".ftk/local/executions/r1-y"
    state.mkdir(parents=True)
    meta = {"name": "r1-y", "run_id": "r1", "pid": 2**22 + 12346, "started_at": None}
    (state / "meta.json").write_text(json.dumps(meta))
    (state / "stop_requested").touch()
    assert LocalTarget(project).get_execution("r1-y").status == ExecutionStatus.STOPPED


def test_local_secrets_store_names_only(project, local_target, invoke, monkeypatch):
    monkeypatch.delenv("FTK_TEST_TOKEN", raising=False)
    args = ["secret", "set", "FTK_TEST_TOKEN"]
    result = invoke(local_target, args, project, input="should-not-be-read")
    assert result.exit_code == 0
    assert "from your environment" in result.stderr and "NOT set" in result.stderr
    stored = (project / ".ftk/local/secret-names.json").read_text()
    assert json.loads(stored) == {"names": ["FTK_TEST_TOKEN"]}
    assert "should-not-be-read" not in stored
    assert invoke(local_target, ["secret", "list"], project).stdout.split() == ["FTK_TEST_TOKEN"]

    run = invoke(local_target, ["run", _run_cfg(project)], project)
    assert "FTK_TEST_TOKEN is not set in your environment" in run.stderr

    assert invoke(local_target, ["secret", "rm", "FTK_TEST_TOKEN", "--yes"], project).exit_code == 0
    assert invoke(local_target, ["secret", "list", "--json"], project).stdout.strip() == "[]"


def test_deploy_endpoint_and_chat_through_openai(project, local_target, invoke):
    trained = invoke(local_target, ["run", _run_cfg(project), "--run-id", "r1", "-f"], project)
    assert trained.exit_code == 0
    deployed = invoke(local_target, ["deploy"], project)
    assert deployed.exit_code == 0, deployed.output
    url = deployed.stdout.strip()
    assert url.startswith("http://127.0.0.1:")

    key_file = project / ".ftk/local/endpoint/api_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    ep = json.loads(invoke(local_target, ["endpoint", "--json"], project).stdout)
    assert ep["ready"] is True and ep["model"] == "r1" and "api_key" not in ep
    assert key not in invoke(local_target, ["endpoint"], project).output

    answer = invoke(local_target, ["chat", "hello there"], project)
    assert answer.exit_code == 0, answer.output
    assert answer.stdout == "echo(r1,1): hello there\n"

    convo = invoke(local_target, ["chat"], project, input="first\nsecond\n")
    assert convo.stdout.splitlines() == ["echo(r1,1): first", "echo(r1,2): second"]

    (project / ".ftk/local/endpoint/api_key").write_text("wrong")
    refused = invoke(LocalTarget(project), ["chat", "hi"], project)
    assert refused.exit_code == ExitCode.AUTH and "API key" in refused.stderr

    assert invoke(LocalTarget(project), ["endpoint", "--stop"], project).exit_code == 0
    down = json.loads(invoke(local_target, ["endpoint", "--json"], project).stdout)
    assert down["ready"] is False
    again = invoke(local_target, ["endpoint", "--stop"], project)
    assert again.exit_code == ExitCode.NOT_FOUND


def test_two_runs_deployed_together_each_answer_under_their_own_name(project, local_target, invoke):
    for run in ("r1", "r2"):
        trained = invoke(local_target, ["run", _run_cfg(project), "--run-id", run, "-f"], project)
        assert trained.exit_code == 0, trained.output
    deployed = invoke(local_target, ["deploy", "r1", "r2", "--json"], project)
    assert deployed.exit_code == 0, deployed.output

    ep = json.loads(invoke(local_target, ["endpoint", "--json"], project).stdout)
    assert ep["models"] == ["r1", "r2"] and ep["model"] == "r1"
    second = invoke(local_target, ["chat", "hi", "--model", "r2"], project)
    assert second.stdout == "echo(r2,1): hi\n"
    first = invoke(local_target, ["chat", "hi"], project)
    assert first.stdout == "echo(r1,1): hi\n"


def test_endpoint_before_any_deploy(project, local_target, invoke):
    result = invoke(local_target, ["endpoint"], project)
    assert result.exit_code == ExitCode.NOT_FOUND and "ftk --local deploy" in result.stderr


def test_deploy_a_run_without_adapter(project, local_target, invoke):
    (project / ".ftk/local/share/runs/r5").mkdir(parents=True)
    result = invoke(local_target, ["deploy", "r5", "--base", "x"], project)
    assert result.exit_code == ExitCode.NOT_FOUND and "r5" in result.stderr


def test_the_local_flag_syncs_into_the_project_folder(project):
    result = CliRunner().invoke(cli, ["--local", "--project-dir", str(project), "sync", "--json"])
    assert result.exit_code == 0, result.output
    assert "data/train.jsonl" in json.loads(result.stdout)["uploaded"]
    assert (project / ".ftk/local/share/.ftk/manifest.json").exists()
    again = CliRunner().invoke(cli, ["--local", "--project-dir", str(project), "sync", "--json"])
    assert json.loads(again.stdout)["uploaded"] == []
    assert os.path.exists(project / ".ftk/sync-cache.json")


def test_the_local_target_meets_the_protocol(project, monkeypatch):
    target = LocalTarget(project)
    assert isinstance(target, Target) and isinstance(target.secrets, SecretStore)
    assert target.capabilities == Capabilities(log_history=True, stop_endpoint=True)
    assert not target.secrets.stores_values and not target.secrets.can_apply
    monkeypatch.setenv("FTK_IS_SET", "x")
    monkeypatch.delenv("FTK_NOT_SET", raising=False)
    target.secrets.set("FTK_IS_SET", "")
    target.secrets.set("FTK_NOT_SET", "")
    assert target.secrets.unavailable() == ["FTK_NOT_SET"]
    assert target.stop_endpoint() is False  # nothing deployed
    target.close()
    target.close()  # idempotent
