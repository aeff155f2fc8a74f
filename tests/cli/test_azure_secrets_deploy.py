"""Job secrets (stack config vs. patching the job) and deploying an adapter to the app."""

from __future__ import annotations

from typing import Any

import pytest

from cli.errors import FtkError, NotFoundError, UnavailableError
from testkit.fakes.azure import FakeAzure, target_from_outputs


def test_infra_secret_set_patches_job_and_keeps_others(infra_target, fake_azure: FakeAzure):
    message = infra_target.secrets.set("WANDB_API_KEY", "wandb-secret-value")
    assert "WANDB_API_KEY" in message and "wandb-api-key" in message
    assert "wandb-secret-value" not in message
    arm = fake_azure.arm
    assert arm.job_secrets == {"hf-token": "hf_fake_value", "wandb-api-key": "wandb-secret-value"}
    env = arm.jobs[fake_azure.JOB]["properties"]["template"]["containers"][0]["env"]
    assert {"name": "WANDB_API_KEY", "secretRef": "wandb-api-key"} in env
    assert {"name": "HF_TOKEN", "secretRef": "hf-token"} in env
    assert infra_target.secrets.names() == ["HF_TOKEN", "WANDB_API_KEY"]

    infra_target.secrets.set("HF_TOKEN", "hf_new")  # replacing keeps one entry
    assert arm.job_secrets["hf-token"] == "hf_new"
    assert [e["name"] for e in env].count("HF_TOKEN") <= 1


def test_infra_secret_remove(infra_target, fake_azure: FakeAzure):
    infra_target.secrets.remove("HF_TOKEN")
    assert fake_azure.arm.job_secrets == {}
    assert infra_target.secrets.names() == []
    with pytest.raises(NotFoundError, match="HF_TOKEN"):
        infra_target.secrets.remove("HF_TOKEN")


class FakeStack:
    """The few `PulumiStack` calls the target makes for secrets."""

    def __init__(self) -> None:
        self.name = "dev"
        self.config: dict[str, str] = {}
        self.ups = 0

    def has_outputs(self) -> bool:
        return True

    def secret_names(self) -> list[str]:
        return sorted(self.config)

    def set_secret(self, name: str, value: str) -> None:
        self.config[name] = value

    def remove_secret(self, name: str) -> None:
        del self.config[name]

    def up(self, on_output: Any = None) -> None:
        self.ups += 1


def test_stack_secret_goes_to_stack_config(fake_azure: FakeAzure):
    stack = FakeStack()
    target = target_from_outputs(
        fake_azure.outputs(), connection=fake_azure.connection(), stack=stack
    )
    message = target.secrets.set("WANDB_API_KEY", "v-123")
    assert stack.config == {"WANDB_API_KEY": "v-123"}
    assert "pulumi up" in message and "v-123" not in message
    assert "wandb-api-key" not in fake_azure.arm.job_secrets  # Azure changes only on `up`
    assert target.secrets.names() == ["HF_TOKEN", "WANDB_API_KEY"]

    message = target.secrets.remove("WANDB_API_KEY", apply=True)
    assert stack.ups == 1 and "applied" in message
    with pytest.raises(NotFoundError):
        target.secrets.remove("WANDB_API_KEY")


def test_deploy_sets_adapter_env_and_waits_for_the_revision(azure_target, fake_azure: FakeAzure):
    endpoint = azure_target.deploy("phi3-0001", base_model="microsoft/Phi-3-mini-4k-instruct")
    app = fake_azure.arm.apps[fake_azure.APP]["properties"]
    env = {e["name"]: e for e in app["template"]["containers"][0]["env"]}
    assert env["FTK_ADAPTER"]["value"] == "phi3-0001=/mount/runs/phi3-0001/adapter"
    assert env["FTK_BASE_MODEL"]["value"] == "microsoft/Phi-3-mini-4k-instruct"
    assert env["FTK_API_KEY"] == {"name": "FTK_API_KEY", "secretRef": "api-key"}
    assert app["latestRevisionName"] == app["latestReadyRevisionName"] == "ftk-dev-app--r2"
    assert endpoint.url == "https://ftk-dev-app.fake.azurecontainerapps.io"
    assert endpoint.ready and endpoint.model == "phi3-0001"
    assert endpoint.api_key == "sk-fake-endpoint-key"
    assert "sk-fake" not in repr(endpoint)

    azure_target.deploy(None, base_model=None)  # base only: the adapter goes away
    env = app["template"]["containers"][0]["env"]
    assert "FTK_ADAPTER" not in {e["name"] for e in env}


def test_deploy_reports_a_failed_revision(azure_target, fake_azure: FakeAzure):
    fake_azure.arm.revision_fails = True
    with pytest.raises(FtkError, match="failed to start: container exited"):
        azure_target.deploy("r1", base_model=None)


def test_deploy_says_up_front_that_a_warm_app_needs_more_gpus(
    fake_azure: FakeAzure, tmp_path, monkeypatch
):
    """Issue 20 finding 6: the old revision serves until the new one is ready."""
    from click.testing import CliRunner

    from cli.app import App
    from cli.main import cli
    from cli.targets.aca import app as azure_app

    monkeypatch.setattr(azure_app.InferenceApp, "deploy", _stop_deploy)
    target = target_from_outputs(fake_azure.outputs(), connection=fake_azure.connection())
    result = CliRunner().invoke(
        cli,
        ["deploy", "--base-only", "--base", "m", "--no-sync"],
        obj=App.with_target(target, tmp_path),
    )
    assert "deploy reached" in result.output  # the note came before deploying started
    note = result.stderr.index("one more GPU per running replica")
    assert note < result.stderr.index("deploy reached")


def _stop_deploy(self, run_id, *, base_model, **_):  # type: ignore[no-untyped-def]
    from cli.errors import FtkError

    raise FtkError("deploy reached")


def test_deploy_times_out(fake_azure: FakeAzure):
    fake_azure.arm.revision_ready_polls = 10_000
    target = target_from_outputs(
        fake_azure.outputs(), connection=fake_azure.connection(deploy_timeout=0.2)
    )
    with pytest.raises(UnavailableError, match="not ready"):
        target.deploy("r1", base_model=None)


def test_infra_endpoint_key_comes_from_the_app_secret(infra_target, fake_azure: FakeAzure):
    endpoint = infra_target.endpoint()
    assert endpoint.api_key == "sk-fake-endpoint-key"
    assert endpoint.model == "microsoft/Phi-3-mini-4k-instruct"
    assert fake_azure.server.requests_matching("containerApps/ftk-dev-app/listSecrets")


def _run_with_adapter(fake_azure: FakeAzure, run: str, **config: Any) -> None:
    import json

    files = fake_azure.files
    files.dirs["ftk"].update({"runs", f"runs/{run}", f"runs/{run}/adapter"})
    adapter = {"base_model_name_or_path": "org/base", "r": 16, "bias": "none", **config}
    files.files["ftk"][f"runs/{run}/adapter/adapter_config.json"] = bytearray(
        json.dumps(adapter).encode()
    )


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"r": 1024}, "LoRA rank 1024 is above the 512 vLLM serves"),
        ({"rank_pattern": {"q_proj": 600}}, "LoRA rank 600"),
        ({"bias": "lora_only"}, "vLLM serves no LoRA bias"),
        ({"use_dora": True}, "DoRA"),
    ],
)
def test_deploy_refuses_an_adapter_the_apps_vllm_cannot_serve(
    fake_azure: FakeAzure, config: dict[str, Any], says: str
):
    """The vLLM app would refuse it at start (inference.vllm_app): the new revision would never
    get ready, after a wait on a GPU. `ftk deploy` says so first (exit 2) and leaves the app as
    it is; the transformers engine serves the same adapter."""
    from cli.errors import UsageError
    from cli.ops.deploy import deploy

    _run_with_adapter(fake_azure, "wide", **config)
    app = fake_azure.arm.apps[fake_azure.APP]["properties"]
    before = app["latestRevisionName"]
    vllm = target_from_outputs(
        fake_azure.outputs(INFERENCE_ENGINE="vllm"), connection=fake_azure.connection()
    )
    with pytest.raises(UsageError, match=says) as refused:
        deploy(vllm, "wide")
    assert refused.value.exit_code == 2 and "inferenceEngine to transformers" in str(
        refused.value.hint
    )
    assert app["latestRevisionName"] == before  # nothing was sent to the app

    transformers = target_from_outputs(
        fake_azure.outputs(INFERENCE_ENGINE="transformers"), connection=fake_azure.connection()
    )
    assert deploy(transformers, "wide").adapters == ("wide",)
