"""`inferenceEngine: vllm`: the app runs vLLM's own server; `ftk deploy` still picks the adapter.

The container's bash script is run here with a stand-in `vllm` on PATH that prints its
arguments, so the tests check the exact command line vLLM would get from the app's env.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contract.commands import VLLM_SERVE_COMMANDS, bash_script
from contract.engines import VLLM_FIRST_FIXED, VLLM_IMAGE
from testkit.fakes.azure import FakeAzure
from testkit.fakes.pulumi_mocks import API_KEY, reveal, run_program
from tests.stacks.test_resources import APP, container, env_of, gpu_profile

ROOT = Path(__file__).resolve().parents[2]


def vllm_argv(env: dict[str, str], tmp_path: Path) -> list[str]:
    """The arguments the app's script hands to `vllm`, for this env: the container's bash script
    run with the share at MOUNT_PATH (this workspace on PYTHONPATH, as the share holds it) and a
    stand-in `vllm` on PATH that prints its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "vllm"
    stub.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    stub.chmod(0o755)
    python3 = bin_dir / "python3"
    if not python3.exists():
        python3.symlink_to(sys.executable)
    share = tmp_path / "share"
    share.mkdir(exist_ok=True)
    run_env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        **env,
        "FTK_API_KEY": "k",  # a secretRef in the container: its value is not in the template
        "MOUNT_PATH": str(share),
    }
    out = subprocess.run(
        ["bash", "-c", bash_script(VLLM_SERVE_COMMANDS)],
        env=run_env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
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
    probes = {p["type"]: p.get("httpGet", {}).get("path") for p in c["probes"]}
    # vLLM listens only once loaded: startup is ftk's TCP listener, readiness /health every 5 s.
    assert probes == {"Startup": None, "Readiness": "/health", "Liveness": "/health"}, urn
    assert c["volumeMounts"] == [{"volumeName": "share", "mountPath": "/mount"}], urn
    volume = reveal(app.inputs["template"])["volumes"][0]
    assert volume["mountOptions"] == "actimeo=30,nosharesock,mfsymlinks", urn
    assert env["HF_HOME"]["value"] == "/mount/model-cache/hf", urn  # model cache on the share
    assert app.inputs["workloadProfileName"] == "GPU" and gpu_profile(pulumi_mocks), urn

    argv = vllm_argv({k: e.get("value", "") for k, e in env.items()}, tmp_path)
    assert argv[:2] == ["serve", "org/base"], argv
    assert argv[argv.index("--served-model-name") + 1] == "org/base"
    assert argv[argv.index("--port") + 1] == "8000"
    assert argv[argv.index("--download-dir") + 1] == "/mount/model-cache/hf/hub"
    assert "--enable-lora" not in argv  # no run deployed yet: the base alone
    # vLLM's own --api-key guards /v1 only: the key is required everywhere by our middleware.
    assert argv[argv.index("--middleware") + 1] == "inference.vllm_app.RequireKey"
    assert "HF_TOKEN" not in env, urn  # the stack has no HF_TOKEN job secret here


@pytest.mark.parametrize(
    ("profile", "engine"),
    [("Consumption-GPU-NC24-A100", "vllm"), ("Consumption-GPU-NC8as-T4", "transformers")],
)
def test_default_engine_per_gpu_profile(pulumi_mocks, profile, engine) -> None:
    run_program({"gpuProfile": profile})
    command = container(pulumi_mocks, APP)["command"][2]
    assert ("inference.vllm_app" in command) == (engine == "vllm"), command
    assert ("python -m inference serve" in command) == (engine == "transformers"), command


def test_deploy_points_vllm_at_the_new_adapter(azure_target, fake_azure: FakeAzure, tmp_path):
    azure_target.deploy("phi3-0001", base_model="microsoft/Phi-3-mini-4k-instruct")
    app = fake_azure.arm.apps[fake_azure.APP]["properties"]
    env = {e["name"]: e.get("value", "") for e in app["template"]["containers"][0]["env"]}
    # The model name is decided here, at deploy: the run id, never derived again by a server.
    assert env["FTK_ADAPTER"] == "phi3-0001=/mount/runs/phi3-0001/adapter"
    # The share is mounted at /mount in the app; here, a folder holding the run's adapter.
    share = tmp_path / "share"
    _adapter(share, "phi3-0001", r=16)
    env = {k: v.replace("/mount", str(share)) for k, v in env.items()}
    env.setdefault("PORT", "8000")
    env.setdefault("HF_HOME", f"{share}/model-cache/hf")
    argv = vllm_argv(env, tmp_path)
    assert argv[:2] == ["serve", "microsoft/Phi-3-mini-4k-instruct"], argv
    assert "--enable-lora" in argv
    # Named by the run id: `ftk chat` and `ftk endpoint` ask for that model, as with transformers.
    module = argv[argv.index("--lora-modules") + 1]
    assert module == f"phi3-0001={share}/runs/phi3-0001/adapter"
    assert azure_target.endpoint().model == "phi3-0001"

    # Two runs on one replica: one --lora-modules list with both, each named by its run id.
    _adapter(share, "phi3-0002", r=8)
    azure_target.deploy("phi3-0001", base_model=None, more_runs=["phi3-0002"])
    env = {e["name"]: e.get("value", "") for e in app["template"]["containers"][0]["env"]}
    env = {k: v.replace("/mount", str(share)) for k, v in env.items()}
    argv = vllm_argv({"PORT": "8000", "HF_HOME": "/h", **env}, tmp_path)
    start = argv.index("--lora-modules")
    assert argv.count("--lora-modules") == 1 and argv[start + 1 : start + 3] == [
        f"phi3-0001={share}/runs/phi3-0001/adapter",
        f"phi3-0002={share}/runs/phi3-0002/adapter",
    ]
    assert azure_target.endpoint().adapters == ("phi3-0001", "phi3-0002")

    azure_target.deploy(None, base_model=None)  # base only: vLLM loses the LoRA module
    env = {e["name"]: e.get("value", "") for e in app["template"]["containers"][0]["env"]}
    argv = vllm_argv({"PORT": "8000", "HF_HOME": "/h", **env}, tmp_path)
    assert "--enable-lora" not in argv and "--lora-modules" not in argv


def test_vllm_app_gets_the_stacks_hf_token_only_by_secret_ref(pulumi_mocks) -> None:
    token = "hf_sentinel_0123456789"
    run_program(
        {"inferenceEngine": "vllm", "inferenceBaseModel": "org/gated"},
        secrets={"jobSecrets": {"HF_TOKEN": token}},
    )
    app = pulumi_mocks.one(APP)
    urn = pulumi_mocks.urn(app)
    env = env_of(container(pulumi_mocks, APP))
    assert env["HF_TOKEN"] == {"name": "HF_TOKEN", "secretRef": "hf-token"}, urn
    assert {"name": "hf-token", "value": token} in reveal(app.inputs["configuration"])["secrets"]
    assert token not in str(reveal(app.inputs["template"])), urn


def _share_env(share: Path, **extra: str) -> dict[str, str]:
    return {
        "PORT": "8000",
        "FTK_BASE_MODEL": "org/base",
        "FTK_MODEL_CACHE": f"{share}/model-cache",
        "HF_HOME": f"{share}/model-cache/hf",
        **extra,
    }


def test_vllm_serves_the_model_folder_the_job_completed(tmp_path) -> None:
    share = tmp_path / "share"
    folder = share / "model-cache" / "org--base"
    folder.mkdir(parents=True)
    argv = vllm_argv(_share_env(share), tmp_path)
    assert argv[1] == "org/base" and "--download-dir" in argv  # not complete: from the Hub
    (folder / ".complete").write_text("ok\n")
    argv = vllm_argv(_share_env(share), tmp_path)
    assert argv[:2] == ["serve", str(folder)], argv  # no second download
    assert argv[argv.index("--served-model-name") + 1] == "org/base"  # the name clients use
    assert "--download-dir" not in argv


def _adapter(root: Path, run: str, **config: object) -> Path:
    import json

    folder = root / "runs" / run / "adapter"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 16, "bias": "none", **config}))
    return folder


@pytest.mark.parametrize(("r", "served"), [(8, 8), (12, 16), (64, 64), (100, 128), (300, 320)])
def test_vllm_max_lora_rank_is_the_adapters_rank_rounded_up(tmp_path, r, served) -> None:
    share = tmp_path / "share"
    adapter = _adapter(share, "run-1", r=r)
    argv = vllm_argv(_share_env(share, FTK_ADAPTER=str(adapter)), tmp_path)
    assert argv[argv.index("--max-lora-rank") + 1] == str(served)
    assert argv[argv.index("--lora-modules") + 1] == f"run-1={adapter}"


def _refusal(env: dict[str, str], tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    python3 = bin_dir / "python3"
    if not python3.exists():
        python3.symlink_to(sys.executable)
    out = subprocess.run(
        ["bash", "-c", bash_script(VLLM_SERVE_COMMANDS)],
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            "FTK_API_KEY": "k",
            "MOUNT_PATH": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("config", "says"),
    [({"r": 1024}, "above the 512"), ({"bias": "all"}, "bias"), ({"lora_bias": True}, "bias")],
)
def test_vllm_refuses_an_adapter_it_cannot_serve_in_one_line(tmp_path, config, says) -> None:
    share = tmp_path / "share"
    adapter = _adapter(share, "run-1", **config)
    line = _refusal(_share_env(share, FTK_ADAPTER=str(adapter)), tmp_path)
    assert says in line


def test_vllm_is_never_started_without_a_key(tmp_path) -> None:
    line = _refusal({**_share_env(tmp_path), "FTK_API_KEY": ""}, tmp_path)
    assert "API key" in line


def test_the_pinned_vllm_is_outside_cve_2026_22778s_range() -> None:
    tag = VLLM_IMAGE.rsplit(":v", 1)[1]
    assert tuple(int(p) for p in tag.split(".")[:3]) >= VLLM_FIRST_FIXED >= (0, 14, 1), VLLM_IMAGE


def test_vllm_keeps_its_compile_cache_on_the_share_and_finds_the_middleware(tmp_path) -> None:
    from inference.vllm_app import vllm_env

    env = vllm_env({"MOUNT_PATH": "/mount", "PYTHONPATH": "/elsewhere"})
    assert env["VLLM_CACHE_ROOT"] == "/mount/.ftk/vllm-cache"
    assert env["PYTHONPATH"] == f"{Path.cwd()}:/elsewhere"  # the share, where `inference` is


def test_vllm_serves_a_catalog_model_from_the_folder_training_cached(tmp_path) -> None:
    """`inferenceBaseModel: SmolLM2-135M-Instruct` (a catalog name): vLLM gets the folder the job
    cached under the Hub id, and clients still name the model as configured."""
    from training.catalog import find

    share = tmp_path / "share"
    hub_id = find("SmolLM2-135M-Instruct").hf_id
    folder = share / "model-cache" / hub_id.replace("/", "--")
    folder.mkdir(parents=True)
    (folder / ".complete").write_text("ok\n")
    env = _share_env(share, FTK_BASE_MODEL="SmolLM2-135M-Instruct")
    argv = vllm_argv(env, tmp_path)
    assert argv[:2] == ["serve", str(folder)], argv
    assert argv[argv.index("--served-model-name") + 1] == "SmolLM2-135M-Instruct"
