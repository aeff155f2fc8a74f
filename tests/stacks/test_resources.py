"""The properties each resource actually sends to Azure, recorded by the mocks."""

from __future__ import annotations

import json

import pytest

from contract import outputs as keys
from contract.commands import STARTED_LISTENER, STARTED_PORT
from testkit.fakes.pulumi_mocks import (
    API_KEY,
    CUSTOMER_ID,
    LOG_KEY,
    STORAGE_KEY,
    is_secret_value,
    reveal,
    run_program,
)

ENV = "azure-native:app:ManagedEnvironment"
ENV_STORAGE = "azure-native:app:ManagedEnvironmentsStorage"
JOB = "azure-native:app:Job"
APP = "azure-native:app:ContainerApp"
ACCOUNT = "azure-native:storage:StorageAccount"
SHARE = "azure-native:storage:FileShare"
FILE_SERVICE = "azure-native:storage:FileServiceProperties"
WORKSPACE = "azure-native:operationalinsights:Workspace"
RG = "azure-native:resources:ResourceGroup"
PASSWORD = "random:index/randomPassword:RandomPassword"
HF_TOKEN = "hf_SENTINEL_token"
COMPONENT_NAMES = {"storage", "monitoring", "environment", "finetuning", "inference"}


def gpu_profile(mocks) -> dict:
    env = mocks.one(ENV)
    profiles = {p["name"]: p for p in env.inputs["workloadProfiles"]}
    assert profiles["Consumption"]["workloadProfileType"] == "Consumption", mocks.urn(env)
    return profiles["GPU"]


def container(mocks, typ: str) -> dict:
    return reveal(mocks.one(typ).inputs["template"])["containers"][0]


def env_of(c: dict) -> dict:
    return {e["name"]: e for e in c["env"]}


@pytest.mark.parametrize("profile", ["Consumption-GPU-NC24-A100", "Consumption-GPU-NC8as-T4"])
def test_serverless_gpu_profile_sends_no_node_counts(pulumi_mocks, profile) -> None:
    run_program({"gpuProfile": profile})
    gpu = gpu_profile(pulumi_mocks)
    assert gpu["workloadProfileType"] == profile
    assert "minimumCount" not in gpu and "maximumCount" not in gpu, pulumi_mocks.urn(
        pulumi_mocks.one(ENV)
    )


@pytest.mark.parametrize("profile", ["NC24-A100", "NC48-A100", "NC96-A100"])
def test_dedicated_gpu_profile_scales_from_zero_to_the_maximum(pulumi_mocks, profile) -> None:
    run_program({"gpuProfile": profile, "maximumInstanceCount": 3}, location="westus3")
    gpu = gpu_profile(pulumi_mocks)
    assert gpu["workloadProfileType"] == profile
    assert (gpu["minimumCount"], gpu["maximumCount"]) == (0, 3)


@pytest.mark.parametrize(
    ("profile", "size"),
    [("NC24-A100", (22, "200Gi")), ("NC48-A100", (22, "200Gi")), ("NC96-A100", (22, "200Gi"))],
)
def test_dedicated_replicas_leave_the_runtime_its_share_of_the_node(
    pulumi_mocks, profile, size
) -> None:
    # A replica asking for the whole node (NC24-A100: 24 vCPU / 220 GiB) is never scheduled:
    # the runtime keeps part of each node (workload-profiles-overview.md).
    run_program({"gpuProfile": profile}, location="westus3")
    for typ in (JOB, APP):
        c = container(pulumi_mocks, typ)
        got = (c["resources"]["cpu"], c["resources"]["memory"])
        assert got == size, pulumi_mocks.urn(pulumi_mocks.one(typ))


def test_serverless_replicas_get_the_whole_profile(pulumi_mocks) -> None:
    run_program({"gpuProfile": "Consumption-GPU-NC8as-T4"})
    for typ in (JOB, APP):
        c = container(pulumi_mocks, typ)
        assert (c["resources"]["cpu"], c["resources"]["memory"]) == (8, "56Gi")


def test_job_runs_once_per_execution_with_the_timeout_and_share(pulumi_mocks) -> None:
    run_program({"timeout": 7200, "replicaRetryLimit": 1})
    job = pulumi_mocks.one(JOB)
    urn = pulumi_mocks.urn(job)
    config = reveal(job.inputs["configuration"])
    assert config["triggerType"] == "Manual", urn
    assert (config["replicaTimeout"], config["replicaRetryLimit"]) == (7200, 1), urn
    assert config["manualTriggerConfig"] == {"parallelism": 1, "replicaCompletionCount": 1}, urn
    assert job.inputs["workloadProfileName"] == "GPU", urn
    c = container(pulumi_mocks, JOB)
    assert c["volumeMounts"] == [{"volumeName": "share", "mountPath": "/mount"}], urn
    volume = reveal(job.inputs["template"])["volumes"][0]
    env_storage = pulumi_mocks.one(ENV_STORAGE)
    # Microsoft's SMB options for metadata-heavy work (stacks/share_mount.py cites them).
    assert volume == {
        "name": "share",
        "storageType": "AzureFile",
        "storageName": env_storage.inputs["storageName"],
        "mountOptions": "actimeo=30,nosharesock,mfsymlinks",
    }, urn
    assert (c["resources"]["cpu"], c["resources"]["memory"]) == (24, "220Gi"), urn
    env = env_of(c)
    assert env["FTK_TIME_BUDGET_SECONDS"]["value"] == str(7200 - 600), urn
    assert env["MOUNT_PATH"]["value"] == "/mount"
    assert env["FTK_MODEL_CACHE"]["value"] == "/mount/model-cache"
    # Dependency sets are unpacked to the container's own disk, not imported over SMB.
    assert env["FTK_LOCAL_ENVS"]["value"] == "/tmp/ftk-envs"
    assert env["HF_HOME"]["value"] == "/mount/model-cache/hf"


def test_job_command_fails_fast_and_runs_the_training_entry_point(pulumi_mocks) -> None:
    run_program({})
    command = container(pulumi_mocks, JOB)["command"]
    assert command[:2] == ["/bin/bash", "-c"]
    script = command[2]
    assert script.startswith("set -euo pipefail; ")
    lines = script.removeprefix("set -euo pipefail; ").split("\n")
    assert lines[0] == 'export FTK_CONTAINER_STARTED_AT="$(date +%s)"'  # before the install
    assert lines[1] == 'cd "$MOUNT_PATH"'
    assert "requirements-train.txt" in lines[2]
    # The execution claims a run request `ftk run` left on the share (contract.requests).
    assert lines[3] == 'python -m training claim --workspace "$MOUNT_PATH"'


def test_custom_commands_are_joined_by_newlines_not_semicolons(pulumi_mocks) -> None:
    run = run_program({"commands": ["echo a", "false", "echo never"]})
    script = container(pulumi_mocks, JOB)["command"][2]
    assert script == "set -euo pipefail; echo a\nfalse\necho never"
    assert run.value(keys.COMMANDS) == ["echo a", "false", "echo never"]


def test_job_secrets_reach_the_container_only_by_secret_ref(pulumi_mocks) -> None:
    run = run_program({}, secrets={"jobSecrets": {"HF_TOKEN": HF_TOKEN}})
    job = pulumi_mocks.one(JOB)
    urn = pulumi_mocks.urn(job)
    assert is_secret_value(job.inputs["configuration"]), f"{urn}: secrets sent in plain"
    assert reveal(job.inputs["configuration"])["secrets"] == [
        {"name": "hf-token", "value": HF_TOKEN}
    ], urn
    env = env_of(container(pulumi_mocks, JOB))
    assert env["HF_TOKEN"] == {"name": "HF_TOKEN", "secretRef": "hf-token"}, urn
    assert HF_TOKEN not in json.dumps(reveal(job.inputs["template"])), urn
    assert run.value(keys.JOB_SECRET_NAMES) == ["HF_TOKEN"]


def test_inference_app_is_https_only_with_probes_and_scale_to_zero(pulumi_mocks) -> None:
    run = run_program(
        {"maximumInstanceCount": 2, "inferencePort": 8080, "inferenceEngine": "transformers"}
    )
    app = pulumi_mocks.one(APP)
    urn = pulumi_mocks.urn(app)
    config = reveal(app.inputs["configuration"])
    ingress = config["ingress"]
    assert ingress["external"] is True and ingress["allowInsecure"] is False, urn
    assert ingress["targetPort"] == 8080, urn
    scale = reveal(app.inputs["template"])["scale"]
    assert (scale["minReplicas"], scale["maxReplicas"]) == (0, 2), urn
    c = container(pulumi_mocks, APP)
    probes = {p["type"]: p for p in c["probes"]}
    # Issue 20 finding 10: the model's readiness is noticed within seconds of /ready, and the
    # liveness probe's budget bounds a start (install, download, load).
    readiness = probes["Readiness"]
    assert readiness["httpGet"] == {"path": "/ready", "port": 8080, "scheme": "HTTP"}, urn
    assert readiness["periodSeconds"] <= 5, urn
    startup = probes["Startup"]
    assert startup["tcpSocket"] == {"port": STARTED_PORT}, urn
    assert startup["initialDelaySeconds"] + startup["periodSeconds"] <= 5, urn
    assert c["command"][2].removeprefix("set -euo pipefail; ").split("\n")[0] == STARTED_LISTENER
    liveness = probes["Liveness"]
    assert liveness["httpGet"]["path"] == "/health", urn
    budget = (
        liveness["initialDelaySeconds"] + liveness["periodSeconds"] * liveness["failureThreshold"]
    )
    assert budget >= 1800, f"{urn}: start budget {budget}s is too short for a model load"
    for probe in probes.values():  # ACA's limits (contract/stack_config.py PROBE_MAX_*)
        assert 1 <= probe["failureThreshold"] <= 10, urn
        assert probe["periodSeconds"] <= 240 and probe.get("initialDelaySeconds", 0) <= 60, urn
    assert c["volumeMounts"] == [{"volumeName": "share", "mountPath": "/mount"}], urn
    assert "python -m inference serve" in c["command"][2]
    assert "requirements-serve.txt" in c["command"][2]
    assert run.value(keys.ACA_APP_ENDPOINT).startswith("https://ftk-dev-app.")


def test_inference_app_env_and_api_key_secret(pulumi_mocks) -> None:
    run = run_program({"inferenceBaseModel": "HuggingFaceTB/SmolLM2-135M-Instruct"})
    app = pulumi_mocks.one(APP)
    urn = pulumi_mocks.urn(app)
    assert is_secret_value(app.inputs["configuration"]), f"{urn}: API key sent in plain"
    assert reveal(app.inputs["configuration"])["secrets"] == [
        {"name": "ftk-api-key", "value": API_KEY}
    ]
    env = env_of(container(pulumi_mocks, APP))
    assert env["FTK_API_KEY"] == {"name": "FTK_API_KEY", "secretRef": "ftk-api-key"}, urn
    assert env["FTK_BASE_MODEL"]["value"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert env["FTK_ADAPTER"]["value"] == ""
    assert env["PORT"]["value"] == "8000"
    assert env["FTK_MODEL_CACHE"]["value"] == "/mount/model-cache"
    password = pulumi_mocks.one(PASSWORD)
    assert password.inputs["length"] >= 32, pulumi_mocks.urn(password)
    value, secret = run.outputs[keys.ACA_APP_API_KEY]
    assert (value, secret) == (API_KEY, True)


def test_inference_can_be_switched_off(pulumi_mocks) -> None:
    run = run_program({"inferenceEnabled": False})
    assert not pulumi_mocks.of_type(APP) and not pulumi_mocks.of_type(PASSWORD)
    for key in (keys.ACA_APP_NAME, keys.ACA_APP_ENDPOINT, keys.ACA_APP_API_KEY):
        assert key not in run.outputs
    assert pulumi_mocks.one(JOB)


def test_storage_is_hardened_and_the_share_soft_deletes(pulumi_mocks) -> None:
    run_program({"fileShareQuotaGiB": 2048})
    account = pulumi_mocks.one(ACCOUNT)
    urn = pulumi_mocks.urn(account)
    i = account.inputs
    assert (i["kind"], i["sku"]) == ("StorageV2", {"name": "Standard_LRS"}), urn
    assert i["enableHttpsTrafficOnly"] is True, urn
    assert i["minimumTlsVersion"] == "TLS1_2", urn
    assert i["allowBlobPublicAccess"] is False, urn
    assert i["largeFileSharesState"] == "Enabled", urn
    share = pulumi_mocks.one(SHARE)
    assert share.inputs["shareQuota"] == 2048, pulumi_mocks.urn(share)
    assert share.inputs["accountName"] == i["accountName"]
    service = pulumi_mocks.one(FILE_SERVICE)
    assert service.inputs["shareDeleteRetentionPolicy"] == {"enabled": True, "days": 7}


def test_environment_storage_mounts_the_share_with_a_secret_key(pulumi_mocks) -> None:
    run_program({})
    storage = pulumi_mocks.one(ENV_STORAGE)
    urn = pulumi_mocks.urn(storage)
    assert is_secret_value(storage.inputs["properties"]), f"{urn}: account key sent in plain"
    azure_file = reveal(storage.inputs["properties"])["azureFile"]
    account = pulumi_mocks.one(ACCOUNT).inputs["accountName"]
    assert azure_file == {
        "accountName": account,
        "accountKey": STORAGE_KEY,
        "shareName": pulumi_mocks.one(SHARE).inputs["shareName"],
        "accessMode": "ReadWrite",
    }, urn
    assert storage.inputs["environmentName"] == pulumi_mocks.one(ENV).inputs["environmentName"]


def test_environment_sends_app_logs_to_the_workspace(pulumi_mocks) -> None:
    run = run_program({"logRetentionDays": 60})
    workspace = pulumi_mocks.one(WORKSPACE)
    assert workspace.inputs["sku"] == {"name": "PerGB2018"}
    assert workspace.inputs["retentionInDays"] == 60
    env = pulumi_mocks.one(ENV)
    urn = pulumi_mocks.urn(env)
    assert is_secret_value(env.inputs["appLogsConfiguration"]), f"{urn}: shared key in plain"
    logs = reveal(env.inputs["appLogsConfiguration"])
    assert logs == {
        "destination": "log-analytics",
        "logAnalyticsConfiguration": {"customerId": CUSTOMER_ID, "sharedKey": LOG_KEY},
    }, urn
    assert run.value(keys.LOG_ANALYTICS_WORKSPACE_ID) == CUSTOMER_ID
    assert run.value(keys.LOG_ANALYTICS_NAME) == workspace.inputs["workspaceName"]


def test_job_and_app_run_in_the_environment_it_created(pulumi_mocks) -> None:
    run_program({})
    env_id = "/subscriptions/00000000-1111-2222-3333-444444444444/fake/environment-env"
    for typ in (JOB, APP):
        assert pulumi_mocks.one(typ).inputs["environmentId"] == env_id


EXISTING = {
    "existingResourceGroup": True,
    "resourceGroupName": "shared-rg",
    "existingStorageAccount": True,
    "storageAccountName": "sharedstore01",
    "existingFileShare": True,
    "fileShareName": "shared-share",
    "existingLogAnalytics": True,
    "acaLogAnalyticsName": "shared-logs",
    "existingEnvironment": True,
    "acaEnvironmentName": "shared-env",
    "existingEnvironmentStorage": True,
    "acaEnvironmentStorageName": "shared-mount",
}


def test_existing_resources_are_referenced_never_created(pulumi_mocks) -> None:
    run = run_program(EXISTING, location=None)
    for typ in (RG, ACCOUNT, SHARE, FILE_SERVICE, WORKSPACE, ENV, ENV_STORAGE):
        assert not pulumi_mocks.of_type(typ), f"{typ} was created; it must only be read"
    invoked = {c.token for c in pulumi_mocks.calls}
    for token in (
        "azure-native:resources:getResourceGroup",
        "azure-native:storage:getStorageAccount",
        "azure-native:storage:getFileShare",
        "azure-native:operationalinsights:getWorkspace",
        "azure-native:app:getManagedEnvironment",
        "azure-native:app:getManagedEnvironmentsStorage",
    ):
        assert token in invoked, f"{token} not called"
    job = pulumi_mocks.one(JOB)
    assert job.inputs["resourceGroupName"] == "shared-rg"
    assert job.inputs["environmentId"].endswith("/envs/shared-env")
    assert job.inputs["location"] == "northeurope"  # the existing group's region
    assert reveal(job.inputs["template"])["volumes"][0]["storageName"] == "shared-mount"
    assert run.value(keys.STORAGE_ACCOUNT_NAME) == "sharedstore01"
    assert run.value(keys.FILE_SHARE_NAME) == "shared-share"
    assert run.value(keys.RESOURCE_GROUP_NAME) == "shared-rg"


def test_missing_pieces_are_created_next_to_existing_ones(pulumi_mocks) -> None:
    run_program({"existingResourceGroup": True, "resourceGroupName": "shared-rg"})
    assert not pulumi_mocks.of_type(RG)
    assert pulumi_mocks.one(ACCOUNT).inputs["resourceGroupName"] == "shared-rg"
    assert pulumi_mocks.one(ENV).inputs["location"] == "swedencentral"


def test_existing_environment_without_a_serverless_gpu_profile_says_how_to_add_it(
    pulumi_mocks,
) -> None:
    # Serverless GPU profiles are managed like any other profile (gpu-serverless-overview.md).
    config = {**EXISTING, "gpuWorkloadProfileName": "A100"}
    with pytest.raises(Exception, match="no workload profile named 'A100'") as err:
        run_program(config)
    message = str(err.value)
    assert "az containerapp env workload-profile add --name shared-env" in message
    assert "--workload-profile-type Consumption-GPU-NC24-A100" in message
    assert "only when" not in message


def test_existing_environment_without_a_dedicated_gpu_profile_needs_a_new_one(
    pulumi_mocks,
) -> None:
    # "GPU-enabled Dedicated profiles must be configured when creating an environment."
    config = {**EXISTING, "gpuProfile": "NC24-A100", "gpuWorkloadProfileName": "A100"}
    with pytest.raises(Exception, match="no workload profile named 'A100'") as err:
        run_program(config)
    assert "only when it creates the environment" in str(err.value)
    assert "workload-profile add" not in str(err.value)


def test_existing_west_europe_environment_without_a_t4_profile_needs_a_new_one(
    pulumi_mocks,
) -> None:
    # gpu-serverless-overview.md: T4 in West Europe only in a newly created environment.
    config = {
        **EXISTING,
        "gpuProfile": "Consumption-GPU-NC8as-T4",
        "gpuWorkloadProfileName": "T4",
    }
    with pytest.raises(Exception, match="no workload profile named 'T4'") as err:
        run_program(config, location="westeurope")
    assert "newly created there" in str(err.value)
    assert "workload-profile add" not in str(err.value)


def test_every_taggable_resource_carries_project_stack_and_managed_by(pulumi_mocks) -> None:
    run_program({"tags": {"cost-center": "ml", "stack": "spoofed"}})
    taggable = (RG, ACCOUNT, WORKSPACE, ENV, JOB, APP)
    for r in pulumi_mocks.resources:
        if r.typ in taggable:
            assert r.inputs.get("tags") == {
                "cost-center": "ml",
                "project": "ftk",
                "stack": "dev",
                "managed-by": "pulumi",
            }, pulumi_mocks.urn(r)
    assert {r.typ for r in pulumi_mocks.resources} >= set(taggable)


def test_every_resource_sits_under_its_component(pulumi_mocks) -> None:
    run_program({})
    for r in pulumi_mocks.resources:
        if r.typ == RG or r.typ.startswith("ftk:azure:"):
            continue
        urn = pulumi_mocks.urn(r)
        parent_types = urn.split("::")[2].split("$")[:-1]
        assert parent_types[-1].startswith("ftk:azure:"), f"{urn} has no component parent"
        assert r.name.split("-")[0] in COMPONENT_NAMES, f"{urn}: name not under its component"


def test_outputs_carry_the_contract_and_no_key_in_plain_text(pulumi_mocks) -> None:
    run = run_program({}, secrets={"jobSecrets": {"HF_TOKEN": HF_TOKEN}})
    for key in (*keys.AI_TOOLKIT_KEYS, *keys.FTK_KEYS, *keys.STACK_ONLY_KEYS):
        assert key in run.outputs, f"output {key} missing"
    for key, (value, secret) in run.outputs.items():
        if secret:
            assert key in keys.SECRET_KEYS, f"{key} is secret but not in SECRET_KEYS"
            continue
        text = json.dumps(value)
        for sentinel in (STORAGE_KEY, LOG_KEY, API_KEY, HF_TOKEN):
            assert sentinel not in text, f"output {key} leaks {sentinel}"
    assert run.outputs[keys.ACA_APP_API_KEY][1] is True
    assert run.value(keys.SUBSCRIPTION_ID) == "00000000-1111-2222-3333-444444444444"
    assert run.value(keys.GPU_PROFILE) == "Consumption-GPU-NC24-A100"
    assert run.value(keys.MOUNT_PATH) == "/mount"
    assert run.value(keys.JOB_TIMEOUT_SECONDS) == 10800


def test_the_startup_listener_answers_at_once_and_ends_with_its_server(tmp_path) -> None:
    """The startup probe's target: open while the server runs, gone when it ends."""
    import socket
    import subprocess
    import sys

    probe = (
        f"{sys.executable} -c 'import socket,time\n"
        "for _ in range(100):\n"
        '    try: socket.create_connection(("127.0.0.1", 8079), 1); print("open"); break\n'
        "    except OSError: time.sleep(0.05)'"
    )
    # The listener's parent is this bash; `exec` replaces it with the "server" (the probe).
    script = f"{STARTED_LISTENER}\nexec {probe}"
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "open"
    for _ in range(100):  # the listener notices its server is gone within 2 s
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", STARTED_PORT)) != 0:
                break
        subprocess.run(["sleep", "0.1"], check=True)
    else:
        raise AssertionError("the listener outlived its server")
