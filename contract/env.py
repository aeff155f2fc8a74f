"""Environment variable names shared by the stack, the job, the app and the CLI, and the
environment each of them gets.

The job and the app read their settings from these variables; the stack sets them on the ACA job
and app, `ftk deploy` changes the app's, and the local target sets them on its subprocesses.
"""

from __future__ import annotations

from typing import Final

from contract import layout

MOUNT_PATH: Final = "MOUNT_PATH"  # where the share is mounted (default /mount)
MODEL_CACHE: Final = "FTK_MODEL_CACHE"  # base models, downloaded once (on the share)
HF_HOME: Final = "HF_HOME"  # Hugging Face's own cache, kept under the model cache
PYTHONUNBUFFERED: Final = "PYTHONUNBUFFERED"  # log lines reach the log stream as they are printed
WORKSPACE: Final = "FTK_WORKSPACE"  # root for a training config's relative paths
TIME_BUDGET: Final = "FTK_TIME_BUDGET_SECONDS"  # seconds an execution may train before it saves
# Epoch seconds when the job's container started (its script's first step, before the install):
# the time budget counts from here (training.clock).
CONTAINER_STARTED_AT: Final = "FTK_CONTAINER_STARTED_AT"
RUN_ID: Final = "FTK_RUN_ID"  # the run an execution works on
SWEEP_ID: Final = "FTK_SWEEP_ID"  # the sweep a run belongs to (`ftk sweep`; tracking tags it)
# Training processes per replica, one per GPU (data parallel through torchrun); 1 or unset: one.
GPU_PROCESSES: Final = "FTK_GPU_PROCESSES"
# Set by ACA in every job execution's containers: "The name of the job execution"
# (MicrosoftDocs/azure-docs articles/container-apps/environment-variables.md, "Built-in
# environment variables > Jobs", ms.date 02/03/2025, commit 32ae536b, read 2026-12-01).
EXECUTION_NAME: Final = "CONTAINER_APP_JOB_EXECUTION_NAME"
BASE_MODEL: Final = "FTK_BASE_MODEL"  # the app's base model
ADAPTER: Final = "FTK_ADAPTER"  # the app's adapters: `[NAME=]PATH`, comma-separated
API_KEY: Final = "FTK_API_KEY"  # the app's API key (from a secretRef, never a plain value)
PORT: Final = "PORT"  # the app's HTTP port
# Set by the prebuilt image (Dockerfile, stack config prebuiltImage): where its baked dependency
# sets live; the bootstrap uses one there before looking on the share.
PREBUILT_ENVS: Final = "FTK_PREBUILT_ENVS"
# Set on Azure (share_env): a local folder where the bootstrap unpacks a dependency set's archive
# from the share, so Python imports it from local disk, not file by file over SMB. A container's
# own filesystem is ephemeral storage, 8 GiB for more than 1 vCPU (MicrosoftDocs/azure-docs
# articles/container-apps/storage-mounts.md, "Ephemeral storage", read 2026-12-05); every GPU
# replica has 8 vCPU or more. Unset (`--local`): the set is used where it was built.
LOCAL_ENVS: Final = "FTK_LOCAL_ENVS"
LOCAL_ENVS_DIR: Final = "/tmp/ftk-envs"


# The margin an execution keeps before its replica timeout to save a checkpoint.
SAVE_MARGIN_SECONDS: Final = 600


def time_budget_seconds(timeout: int) -> int:
    """FTK_TIME_BUDGET_SECONDS for a job whose replicas time out after `timeout` seconds: the
    timeout less a margin (10 minutes, or a tenth of a short timeout) to save a checkpoint."""
    return timeout - min(SAVE_MARGIN_SECONDS, timeout // 10)


def model_cache_path(mount_path: str) -> str:
    """The model cache on a share mounted at `mount_path`."""
    return f"{mount_path}/{layout.MODEL_CACHE_DIR}"


def share_env(mount_path: str, model_cache: str | None = None) -> dict[str, str]:
    """What both the job and the app need to find the share and the model cache."""
    cache = model_cache or model_cache_path(mount_path)
    return {
        MOUNT_PATH: mount_path,
        MODEL_CACHE: cache,
        HF_HOME: f"{cache}/{layout.HF_HOME_DIR}",
        PYTHONUNBUFFERED: "1",
        LOCAL_ENVS: LOCAL_ENVS_DIR,
    }


def job_env(
    mount_path: str,
    *,
    time_budget_seconds: int | None = None,
    model_cache: str | None = None,
    gpu_processes: int = 1,
) -> dict[str, str]:
    """The fine-tuning job's plain environment (secrets are added by name, as secretRefs)."""
    env = share_env(mount_path, model_cache)
    if time_budget_seconds is not None:
        env[TIME_BUDGET] = str(time_budget_seconds)
    env[GPU_PROCESSES] = str(gpu_processes)
    return env


def app_env(
    mount_path: str,
    *,
    base_model: str,
    port: int,
    adapter: str = "",
    model_cache: str | None = None,
) -> dict[str, str]:
    """The inference app's plain environment (the API key is a secretRef on API_KEY)."""
    return {
        **share_env(mount_path, model_cache),
        BASE_MODEL: base_model,
        ADAPTER: adapter,
        PORT: str(port),
    }


# vLLM's own variable for its API key (vllm/envs.py, "VLLM_API_KEY"): the vLLM app gets the same
# secret under this name, so the key is never a command-line argument.
VLLM_API_KEY: Final = "VLLM_API_KEY"
