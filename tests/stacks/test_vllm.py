"""`inferenceEngine: vllm`: the app runs vLLM's own server; `ftk deploy` still picks the adapter.

The container's bash script is run here with a stand-in `vllm` on PATH that prints its
arguments, so the tests check the exact command line vLLM would get from the app's env.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from contract.commands import VLLM_SERVE_COMMANDS, bash_script
from stacks.settings import VLLM_IMAGE
from testkit.fakes.azure import FakeAzure
from testkit.fakes.pulumi_mocks import API_KEY, reveal, run_program
from tests.stacks.test_resources import APP, container, env_of, gpu_profile


def vllm_argv(env: dict[str, str], tmp_path: Path) -> list[str]:
    """The arguments the app's script hands to `vllm`, for this env."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "vllm"
    stub.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    stub.chmod(0o755)
    run_env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", **env}
    out = subprocess.run(
        ["bash", "-c", bash_script(VLLM_SERVE_COMMANDS)],
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.splitlines()


def test_vllm_app_container_image_key_probes_share_and_gpu(pulumi_mocks, tmp_path) -> None:
    run_program({"inferenceEngine": "vllm", "inferenceBaseModel": "org/base"})
    app = pulumi_mocks.one(APP)
    urn = pulumi_mocks.urn(app)
    c = container(pulumi_mocks, APP)
    assert c["image"] == VLLM_IMAGE and ":v" in VLLM_IMAGE, urn  # pinned, never :latest
    env = env_of(c)
    # The key only by secretRef, under vLLM's name and ours (ftk endpoint reads FTK_API_KEY's).
    assert env["VLLM_API_KEY"] == {"name": "VLLM_API_KEY", "secretRef": "ftk-api-key"}, urn
    assert env["FTK_API_KEY"] == {"name": "FTK_API_KEY", "secretRef": "ftk-api-key"}, urn
    assert reveal(app.inputs["configuration"])["secrets"] == [
        {"name": "ftk-api-key", "value": API_KEY}
    ]
    assert API_KEY not in " ".join(c["command"])
    probes = {p["type"]: p["httpGet"]["path"] for p in c["probes"]}
    assert probes == {"Startup": "/health", "Readiness": "/health", "Liveness": "/health"}, urn
    assert c["volumeMounts"] == [{"volumeName": "share", "mountPath": "/mount"}], urn
    assert env["HF_HOME"]["value"] == "/mount/model-cache/hf", urn  # model cache on the share
    assert app.inputs["workloadProfileName"] == "GPU" and gpu_profile(pulumi_mocks), urn

    argv = vllm_argv({k: e.get("value", "") for k, e in env.items()}, tmp_path)
    assert argv[:2] == ["serve", "org/base"], argv
    assert argv[argv.index("--served-model-name") + 1] == "org/base"
    assert argv[argv.index("--port") + 1] == "8000"
    assert argv[argv.index("--download-dir") + 1] == "/mount/model-cache/hf/hub"
    assert "--enable-lora" not in argv  # no run deployed yet: the base alone


@pytest.mark.parametrize(
    ("profile", "engine"),
    [("Consumption-GPU-NC24-A100", "vllm"), ("Consumption-GPU-NC8as-T4", "transformers")],
)
def test_default_engine_per_gpu_profile(pulumi_mocks, profile, engine) -> None:
    run_program({"gpuProfile": profile})
    command = container(pulumi_mocks, APP)["command"][2]
    assert ("exec vllm serve" in command) == (engine == "vllm"), command
    assert ("python -m inference serve" in command) == (engine == "transformers"), command


def test_deploy_points_vllm_at_the_new_adapter(azure_target, fake_azure: FakeAzure, tmp_path):
    azure_target.deploy("phi3-0001", base_model="microsoft/Phi-3-mini-4k-instruct")
    app = fake_azure.arm.apps[fake_azure.APP]["properties"]
    env = {e["name"]: e.get("value", "") for e in app["template"]["containers"][0]["env"]}
    env.setdefault("PORT", "8000")
    env.setdefault("HF_HOME", "/mount/model-cache/hf")
    argv = vllm_argv(env, tmp_path)
    assert argv[:2] == ["serve", "microsoft/Phi-3-mini-4k-instruct"], argv
    assert "--enable-lora" in argv
    # Named by the run id: `ftk chat` and `ftk endpoint` ask for that model, as with transformers.
    module = argv[argv.index("--lora-modules") + 1]
    assert module == "phi3-0001=/mount/runs/phi3-0001/adapter"
    assert azure_target.endpoint().model == "phi3-0001"

    # Two runs on one replica: one --lora-modules list with both, each named by its run id.
    azure_target.deploy("phi3-0001", base_model=None, more_runs=["phi3-0002"])
    env = {e["name"]: e.get("value", "") for e in app["template"]["containers"][0]["env"]}
    argv = vllm_argv({"PORT": "8000", "HF_HOME": "/h", **env}, tmp_path)
    start = argv.index("--lora-modules")
    assert argv.count("--lora-modules") == 1 and argv[start + 1 :] == [
        "phi3-0001=/mount/runs/phi3-0001/adapter",
        "phi3-0002=/mount/runs/phi3-0002/adapter",
    ]
    assert azure_target.endpoint().adapters == ("phi3-0001", "phi3-0002")

    azure_target.deploy(None, base_model=None)  # base only: vLLM loses the LoRA module
    env = {e["name"]: e.get("value", "") for e in app["template"]["containers"][0]["env"]}
    argv = vllm_argv({"PORT": "8000", "HF_HOME": "/h", **env}, tmp_path)
    assert "--enable-lora" not in argv and "--lora-modules" not in argv
