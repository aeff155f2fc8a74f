"""The serving engines' registry (`contract.engines.ENGINES`): every entry complete, and read the
same way by the stack, `ftk deploy` (the Azure target's endpoint) and `--local`.

Parametrized over the registry, so a new engine's entry is checked here without a new test: its
image, command, probes and key variables as the stack declares them; its name as the stack
exports it and the CLI reads it back (the ready path the wake poll uses); its local argv.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from contract import env as ftk_env
from contract import outputs as keys
from contract.commands import STARTED_LISTENER, bash_script, own_image_commands
from contract.engines import ENGINES, FALLBACK, ServingEngine, default_for, engine, local_engine
from stacks.gpu import GPU_PROFILES
from stacks.settings import DEFAULT_IMAGE
from testkit.fakes.azure import FakeAzure, target_from_outputs
from testkit.fakes.pulumi_mocks import reveal, run_program
from tests.stacks.test_prebuilt_image import ON as PREBUILT
from tests.stacks.test_resources import APP, container, env_of

ENTRIES = pytest.mark.parametrize("serving", list(ENGINES.values()), ids=list(ENGINES))
GPUS = sorted({p.gpu for p in GPU_PROFILES.values()})


@ENTRIES
def test_every_entry_is_complete(serving: ServingEngine) -> None:
    assert ENGINES[serving.name] is serving and engine(serving.name) is serving
    assert re.fullmatch(r"[a-z][a-z0-9-]*", serving.name) and serving.label
    # The server is a module on the share; the container's last step execs it, so the platform's
    # signals reach the server itself, and its first step is the startup probe's listener.
    assert importlib.util.find_spec(serving.entry_point) is not None, serving.entry_point
    assert serving.commands[0] == STARTED_LISTENER
    assert re.fullmatch(
        rf"exec python3? -m {re.escape(serving.entry_point)}( .*)?", serving.commands[-1]
    )
    assert serving.ready_path.startswith("/") and serving.health_path.startswith("/")
    # FTK_API_KEY first: `ftk endpoint` finds the app's key through it, whatever the engine.
    assert serving.key_vars[0] == ftk_env.API_KEY and len(set(serving.key_vars)) == len(
        serving.key_vars
    )
    if serving.image is not None:  # its own image, pinned: a new release is a deliberate change
        assert re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)*", serving.image), serving.image
        assert serving.commands == own_image_commands(serving.entry_point)
    assert set(serving.default_gpus) <= set(GPUS), serving.default_gpus
    # A plain adapter (PEFT's defaults) is always served.
    assert serving.adapter_problem({"r": 8, "bias": "none", "lora_bias": False}) is None
    assert serving.adapter_rule


def test_each_gpu_has_one_default_engine_and_local_has_one() -> None:
    for gpu in GPUS:
        claimed = [e.name for e in ENGINES.values() if gpu in e.default_gpus]
        assert len(claimed) <= 1, (gpu, claimed)
        assert default_for(gpu).name == (claimed[0] if claimed else FALLBACK)
    assert local_engine().local_argv is not None and FALLBACK in ENGINES
    with pytest.raises(ValueError, match="unknown inference engine 'sglang'"):
        engine("sglang")


@ENTRIES
def test_the_stack_runs_the_entry(pulumi_mocks, serving: ServingEngine) -> None:
    run = run_program({"inferenceEngine": serving.name})
    urn = pulumi_mocks.urn(pulumi_mocks.one(APP))
    c = container(pulumi_mocks, APP)
    assert c["command"] == ["/bin/bash", "-c", bash_script(serving.commands)], urn
    assert c["image"] == (serving.image or DEFAULT_IMAGE), urn
    probes = {p["type"]: p.get("httpGet", {}).get("path") for p in c["probes"]}
    assert probes == {
        "Startup": None,  # the TCP listener
        "Readiness": serving.ready_path,
        "Liveness": serving.health_path,
    }, urn
    env = env_of(c)
    refs = {name: e["secretRef"] for name, e in env.items() if "secretRef" in e}
    assert refs == {var: "ftk-api-key" for var in serving.key_vars}, urn
    assert run.value(keys.INFERENCE_ENGINE) == serving.name


@ENTRIES
def test_the_prebuilt_image_replaces_only_the_job_image(pulumi_mocks, serving) -> None:
    run_program({**PREBUILT, "inferenceEngine": serving.name})
    app = pulumi_mocks.one(APP)
    image = container(pulumi_mocks, APP)["image"]
    registries = reveal(app.inputs["configuration"]).get("registries")
    if serving.image is None:
        assert ".azurecr.io/" in image and registries, pulumi_mocks.urn(app)
    else:
        assert image == serving.image and not registries, pulumi_mocks.urn(app)


@ENTRIES
def test_deploy_waits_on_the_entrys_ready_path(
    pulumi_mocks, fake_azure: FakeAzure, serving: ServingEngine
) -> None:
    """The name the stack exports is the one the Azure target looks up: `ftk deploy`, `ftk
    endpoint` and `ftk chat` wake the app through that entry's ready path."""
    exported = run_program({"inferenceEngine": serving.name}).value(keys.INFERENCE_ENGINE)
    target = target_from_outputs(
        fake_azure.outputs(INFERENCE_ENGINE=exported), connection=fake_azure.connection()
    )
    deployed = target.deploy("run-1", base_model="org/base")
    assert deployed.ready_path == serving.ready_path
    assert deployed.adapters == ("run-1",)
    assert target.endpoint().ready_path == serving.ready_path


def test_an_app_without_an_engine_output_is_ftks_own_server(fake_azure: FakeAzure) -> None:
    """`--infra` files and stacks from before INFERENCE_ENGINE: the fallback engine."""
    target = target_from_outputs(fake_azure.outputs(), connection=fake_azure.connection())
    assert target.endpoint().ready_path == ENGINES[FALLBACK].ready_path


def test_local_runs_the_local_entrys_argv(tmp_path: Path) -> None:
    """`--local` starts the registry's local engine with its argv, and waits on its ready path."""
    from cli.targets.local.endpoint import ServeSpec, default_serve_command

    serving = local_engine()
    spec = ServeSpec("org/base", ("run-1", tmp_path / "a"), 8123, tmp_path / "cache")
    argv = default_serve_command(spec)
    assert argv[1:3] == ["-m", serving.entry_point], argv
    assert f"run-1={tmp_path / 'a'}" in argv and "8123" in argv  # named here, at deploy
    assert ftk_env.API_KEY in argv  # the variable's name; the key itself only in the env
