"""The stack outputs: the only place `pulumi.export` is called, with the contract's keys.

Keys and passwords never appear here in plain text; the inference API key is exported only as
the secret output `ACA_APP_API_KEY`.
"""

from __future__ import annotations

from typing import Any

import pulumi

from contract import outputs as keys
from stacks.program import Stack


def stack_outputs(stack: Stack) -> dict[str, Any]:
    """Contract key -> value (plain or Output) for one built stack."""
    s = stack.settings
    monitoring = stack.monitoring
    out: dict[str, Any] = {
        keys.SUBSCRIPTION_ID: stack.subscription_id,
        keys.RESOURCE_GROUP_NAME: stack.resource_group_name,
        keys.STORAGE_ACCOUNT_NAME: stack.storage.account_name,
        keys.FILE_SHARE_NAME: stack.storage.share_name,
        keys.ACA_JOB_NAME: stack.job.job_name,
        keys.COMMANDS: list(s.commands),
        keys.LOCATION: stack.location,
        keys.ACA_ENVIRONMENT_NAME: stack.environment.environment_name,
        keys.ACA_ENVIRONMENT_STORAGE_NAME: stack.environment.storage_name,
        keys.LOG_ANALYTICS_WORKSPACE_ID: (
            monitoring.customer_id if monitoring else stack.environment.log_customer_id
        ),
        keys.GPU_PROFILE: s.gpu.type,
        keys.MOUNT_PATH: s.mount_path,
        keys.JOB_TIMEOUT_SECONDS: s.timeout,
        keys.MAXIMUM_INSTANCE_COUNT: s.maximum_instance_count,
        keys.JOB_SECRET_NAMES: list(s.job_secret_names),
    }
    if monitoring is not None:
        out[keys.LOG_ANALYTICS_NAME] = monitoring.workspace_name
    if stack.inference is not None:
        out[keys.ACA_APP_NAME] = stack.inference.app_name
        out[keys.ACA_APP_ENDPOINT] = stack.inference.endpoint
        out[keys.INFERENCE_BASE_MODEL] = s.inference.base_model if s.inference else ""
        out[keys.INFERENCE_ENGINE] = s.inference.engine if s.inference else ""
        out[keys.ACA_APP_API_KEY] = pulumi.Output.secret(stack.inference.api_key)
    return out


def export_outputs(stack: Stack) -> None:
    """`pulumi.export` every contract key of `stack`."""
    for key, value in stack_outputs(stack).items():
        pulumi.export(key, value)
