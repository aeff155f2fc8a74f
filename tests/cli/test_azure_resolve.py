"""Resolving an Azure target: AI Toolkit config files as they are, and Pulumi stack outputs
through a mocked Automation API (no Pulumi CLI here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.errors import FtkError, NotFoundError, UsageError
from cli.main import cli
from cli.targets.aca import AzureTarget
from cli.targets.azure import stack as stack_outputs
from testkit.fakes.pulumi_auto import CommandError, FakeAuto, FakeStackObject
from testkit.fakes.pulumi_cli import PulumiCalls


def _write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


FINETUNING = {
    "SUBSCRIPTION_ID": "sub-1",
    "RESOURCE_GROUP_NAME": "rg",
    "STORAGE_ACCOUNT_NAME": "store",
    "FILE_SHARE_NAME": "share",
    "ACA_JOB_NAME": "job",
    "COMMANDS": ["cd /mount", "python3 ./finetuning/invoke_olive.py"],
}


def test_infra_files_are_read_as_they_are(tmp_path: Path):
    fine = _write(tmp_path / "infra/finetuning.config.json", FINETUNING)
    inf = _write(
        tmp_path / "infra/inference.config.json",
        {"SUBSCRIPTION_ID": "sub-1", "ACA_APP_NAME": "app", "ACA_APP_ENDPOINT": "https://a"},
    )
    target = AzureTarget.from_infra_files([fine, inf])
    assert target.kind == "infra"
    described = target.describe()
    assert described["ACA_JOB_NAME"] == "job" and described["ACA_APP_NAME"] == "app"
    assert json.loads(described["COMMANDS"])[0] == "cd /mount"
    assert target.deployment.job_name == "job" and target.deployment.app_name == "app"


def test_null_value_names_the_key_and_the_file(tmp_path: Path):
    fine = _write(tmp_path / "infra/finetuning.config.json", {**FINETUNING, "ACA_JOB_NAME": None})
    target = AzureTarget.from_infra_files([fine])
    with pytest.raises(UsageError) as info:
        target.start_execution("r1")
    assert "ACA_JOB_NAME is null in" in info.value.message
    assert str(fine) in info.value.message
    assert info.value.exit_code == 2


def test_missing_key_names_the_key_and_the_files(tmp_path: Path):
    fine = _write(tmp_path / "infra/finetuning.config.json", FINETUNING)
    target = AzureTarget.from_infra_files([fine])
    with pytest.raises(UsageError, match=r"ACA_APP_NAME is missing from .*finetuning.config.json"):
        target.endpoint()


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"), (None, "does not exist")],
)
def test_bad_infra_files(tmp_path: Path, content: str | None, expected: str):
    path = tmp_path / "infra/finetuning.config.json"
    if content is not None:
        _write(path, content)
    with pytest.raises(UsageError, match=expected):
        AzureTarget.from_infra_files([path])


def test_conflicting_infra_files(tmp_path: Path):
    a = _write(tmp_path / "a.json", FINETUNING)
    b = _write(tmp_path / "b.json", {**FINETUNING, "RESOURCE_GROUP_NAME": "other"})
    with pytest.raises(UsageError, match="RESOURCE_GROUP_NAME differs"):
        AzureTarget.from_infra_files([a, b])


# -- Pulumi stack, Automation API mocked -------------------------------------------------------


OUTPUTS = {**FINETUNING, "ACA_APP_NAME": "app", "ACA_APP_API_KEY": "sk-very-secret"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: ftk\nruntime: python\n")
    return tmp_path


def _use(monkeypatch: pytest.MonkeyPatch, auto: FakeAuto) -> FakeAuto:
    monkeypatch.setattr(stack_outputs, "_automation", lambda: auto)
    return auto


def test_stack_outputs_resolve_and_hide_the_key(monkeypatch, project: Path):
    _use(monkeypatch, FakeAuto(OUTPUTS))
    target = AzureTarget.from_stack(project, None)
    assert target.kind == "stack"
    assert target.describe()["ACA_JOB_NAME"] == "job"
    assert "ACA_APP_API_KEY" not in target.describe()
    assert "sk-very-secret" not in json.dumps(dict(target.describe()))
    assert target.config.secret("ACA_APP_API_KEY") == "sk-very-secret"


def test_stack_secret_is_a_pulumi_secret_at_its_path_and_never_an_argument(
    monkeypatch, project: Path, fake_pulumi: PulumiCalls
):
    """Issue 11: the Automation API's set_config put the value on pulumi's command line, where
    any local user sees it in `ps`; the value now travels on stdin only."""
    auto = _use(monkeypatch, FakeAuto(OUTPUTS))
    target = AzureTarget.from_stack(project, "prod")
    target.secrets.set("HF_TOKEN", "hf_abc-very-secret")
    [call] = fake_pulumi.all()
    assert not any("hf_abc-very-secret" in arg for arg in call["argv"])
    assert call["stdin"] == "hf_abc-very-secret"
    assert call["argv"][1:] == [
        "--non-interactive",
        "config",
        "set",
        "--secret",
        "--path",
        "--stack",
        "prod",
        "jobSecrets.HF_TOKEN",
    ]
    assert auto.config == {}  # the Automation API's set_config is not used for values


def test_a_failed_pulumi_config_set_is_one_error_without_the_value(
    monkeypatch, project: Path, fake_pulumi: PulumiCalls
):
    _use(monkeypatch, FakeAuto(OUTPUTS))
    fake_pulumi.fail_with("error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE")
    target = AzureTarget.from_stack(project, "dev")
    with pytest.raises(FtkError, match="passphrase must be set") as info:
        target.secrets.set("HF_TOKEN", "hf_abc-very-secret")
    assert "hf_abc-very-secret" not in str(info.value) + (info.value.hint or "")


def test_stack_without_outputs(monkeypatch, project: Path):
    _use(monkeypatch, FakeAuto({}))
    target = AzureTarget.from_stack(project, None)
    with pytest.raises(NotFoundError, match="has no outputs yet") as info:
        target.describe()
    assert "pulumi up" in (info.value.hint or "")


def test_secrets_before_the_first_up(monkeypatch, project: Path, fake_pulumi: PulumiCalls):
    """`pulumi stack init dev` -> `ftk secret set HF_TOKEN` -> `pulumi up`: the day in DESIGN."""
    auto = _use(monkeypatch, FakeAuto({}))

    def ftk(*args: str, input: str | None = None) -> Any:
        return CliRunner().invoke(cli, ["--project-dir", str(project), *args], input=input)

    stored = ftk("secret", "set", "HF_TOKEN", input="hf_before_up\n")
    assert stored.exit_code == 0, stored.output
    [call] = fake_pulumi.all()
    assert call["stdin"] == "hf_before_up" and call["argv"][-1] == "jobSecrets.HF_TOKEN"
    assert "hf_before_up" not in stored.output and "pulumi up" in stored.output
    auto.config[("jobSecrets.HF_TOKEN", True)] = "[secret]"  # what that `pulumi` call stored

    listed = ftk("secret", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.split() == ["HF_TOKEN"]

    applied = ftk("secret", "set", "WANDB_API_KEY", "--apply", input="w\n")
    assert applied.exit_code == 0, applied.output
    assert auto.ups == 1

    ps = ftk("ps")
    assert ps.exit_code == 3, ps.output
    assert "stack 'dev' has no outputs yet" in ps.output and "pulumi up" in ps.output


def test_no_stack_selected(monkeypatch, project: Path):
    _use(monkeypatch, FakeAuto(OUTPUTS, selected=None))
    with pytest.raises(UsageError, match="no Pulumi stack is selected") as info:
        AzureTarget.from_stack(project, None)
    assert "--stack" in (info.value.hint or "")


def test_unknown_stack(monkeypatch, project: Path):
    _use(monkeypatch, FakeAuto(OUTPUTS))
    with pytest.raises(NotFoundError, match="stack 'staging' does not exist"):
        AzureTarget.from_stack(project, "staging")


def test_pulumi_cli_missing(monkeypatch, project: Path):
    _use(monkeypatch, FakeAuto(OUTPUTS, cli=False))
    with pytest.raises(UsageError, match="Pulumi CLI is not installed") as info:
        AzureTarget.from_stack(project, None)
    assert "--infra" in (info.value.hint or "")


def test_not_a_pulumi_project(monkeypatch, tmp_path: Path):
    _use(monkeypatch, FakeAuto(OUTPUTS))
    with pytest.raises(UsageError, match="no Pulumi project"):
        AzureTarget.from_stack(tmp_path, None)


def test_stack_missing_an_output_is_not_found(monkeypatch, project: Path):
    _use(monkeypatch, FakeAuto({k: v for k, v in OUTPUTS.items() if k != "ACA_JOB_NAME"}))
    target = AzureTarget.from_stack(project, None)
    with pytest.raises(NotFoundError, match="stack 'dev' has no output ACA_JOB_NAME"):
        target.executions()


def test_pulumi_command_errors_are_one_line(monkeypatch, project: Path):
    _use(monkeypatch, FakeAuto(OUTPUTS))

    def broken(self: Any) -> Any:
        raise CommandError("code: 255\nstderr: error: PULUMI_ACCESS_TOKEN must be set\n")

    monkeypatch.setattr(FakeStackObject, "outputs", broken)
    target = AzureTarget.from_stack(project, None)
    with pytest.raises(FtkError, match="pulumi failed: PULUMI_ACCESS_TOKEN must be set"):
        target.describe()
