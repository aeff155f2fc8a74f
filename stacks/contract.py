"""The output contract: stack output keys, shared with the AI Toolkit's infra config files.

Kept free of pulumi imports so the CLI can read the key names without loading Pulumi.
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
LOG_ANALYTICS_WORKSPACE_ID: Final = "LOG_ANALYTICS_WORKSPACE_ID"
GPU_PROFILE: Final = "GPU_PROFILE"
MOUNT_PATH: Final = "MOUNT_PATH"
# A secret output (Pulumi marks it secret); never printed by the CLI unless asked.
ACA_APP_API_KEY: Final = "ACA_APP_API_KEY"

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
SECRET_KEYS: Final = (ACA_APP_API_KEY,)
DEFAULT_MOUNT_PATH: Final = "/mount"
