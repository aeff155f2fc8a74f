"""The output contract: stack output keys, shared with the AI Toolkit's infra config files.

`pulumi stack output --json`, the `--infra` JSON files and the local target all carry these keys,
so one reader serves every source.
"""

from typing import Final

# Keys the AI Toolkit writes to infra/finetuning.config.json and infra/inference.config.json.
SUBSCRIPTION_ID: Final = "SUBSCRIPTION_ID"
RESOURCE_GROUP_NAME: Final = "RESOURCE_GROUP_NAME"
STORAGE_ACCOUNT_NAME: Final = "STORAGE_ACCOUNT_NAME"
FILE_SHARE_NAME: Final = "FILE_SHARE_NAME"
ACA_JOB_NAME: Final = "ACA_JOB_NAME"
COMMANDS: Final = "COMMANDS"
ACA_APP_NAME: Final = "ACA_APP_NAME"
ACA_APP_ENDPOINT: Final = "ACA_APP_ENDPOINT"
LOG_ANALYTICS_NAME: Final = "LOG_ANALYTICS_NAME"

# ftk's own keys.
LOCATION: Final = "LOCATION"
ACA_ENVIRONMENT_NAME: Final = "ACA_ENVIRONMENT_NAME"
# The workspace's customerId (a GUID): what a Log Analytics query takes as the workspace id.
LOG_ANALYTICS_WORKSPACE_ID: Final = "LOG_ANALYTICS_WORKSPACE_ID"
GPU_PROFILE: Final = "GPU_PROFILE"
MOUNT_PATH: Final = "MOUNT_PATH"
# A secret output (Pulumi marks it secret); never printed by the CLI unless asked.
ACA_APP_API_KEY: Final = "ACA_APP_API_KEY"
# Written by the Pulumi stack only (absent from --infra files and the local target).
ACA_ENVIRONMENT_STORAGE_NAME: Final = "ACA_ENVIRONMENT_STORAGE_NAME"
JOB_TIMEOUT_SECONDS: Final = "JOB_TIMEOUT_SECONDS"  # the job's replicaTimeout, an int
# The job's maximumInstanceCount: how many executions may run at once (`ftk sweep --parallel`).
MAXIMUM_INSTANCE_COUNT: Final = "MAXIMUM_INSTANCE_COUNT"
JOB_SECRET_NAMES: Final = "JOB_SECRET_NAMES"  # env var names backed by job secrets, a list
INFERENCE_BASE_MODEL: Final = "INFERENCE_BASE_MODEL"  # the app's FTK_BASE_MODEL at `pulumi up`
INFERENCE_ENGINE: Final = "INFERENCE_ENGINE"  # "vllm" or "transformers" (contract.engines)

AI_TOOLKIT_KEYS: Final = (
    SUBSCRIPTION_ID,
    RESOURCE_GROUP_NAME,
    STORAGE_ACCOUNT_NAME,
    FILE_SHARE_NAME,
    ACA_JOB_NAME,
    COMMANDS,
    ACA_APP_NAME,
    ACA_APP_ENDPOINT,
    LOG_ANALYTICS_NAME,
)
FTK_KEYS: Final = (
    LOCATION,
    ACA_ENVIRONMENT_NAME,
    LOG_ANALYTICS_WORKSPACE_ID,
    GPU_PROFILE,
    MOUNT_PATH,
)
STACK_ONLY_KEYS: Final = (
    ACA_ENVIRONMENT_STORAGE_NAME,
    JOB_TIMEOUT_SECONDS,
    MAXIMUM_INSTANCE_COUNT,
    JOB_SECRET_NAMES,
    INFERENCE_BASE_MODEL,
    INFERENCE_ENGINE,
)
SECRET_KEYS: Final = (ACA_APP_API_KEY,)
DEFAULT_MOUNT_PATH: Final = "/mount"
