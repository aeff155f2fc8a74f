"""What a target says about the deployment the doctor examines, deployed or not yet.

After `pulumi up` (or from `--infra` files) the output-contract values name every resource.
Before the first `pulumi up` a stack has only its config: the names are derived the way the
program derives them (`stacks.naming`), the region and GPU profile come from the same keys
(`stacks.settings` documents them), and resources flagged `existing*` must already exist.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cli.errors import NotFoundError
from contract import outputs as keys

if TYPE_CHECKING:
    from cli.targets.azure import AzureTarget
    from cli.targets.azure.config import TargetConfig

SUBSCRIPTION_ENV = ("AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID")
DEFAULT_TIMEOUT = 10800  # stacks/settings.py: the `timeout` key's default
DEFAULT_MAX_INSTANCES = 1  # stacks/settings.py: the `maximumInstanceCount` key's default


@dataclass(frozen=True)
class Deployment:
    origin: str  # "stack 'dev' (outputs)", "stack 'dev' (config: not deployed yet)", "infra files"
    deployed: bool
    subscription: str | None = None
    resource_group: str | None = None
    location: str | None = None
    gpu_profile: str | None = None
    environment: str | None = None
    storage_account: str | None = None
    new_storage_account: bool = False  # `pulumi up` will create it: its name must be free
    must_exist: dict[str, str] = field(default_factory=dict)  # kind -> name
    app_replicas: int = 0  # the inference app's maximum replicas (0: no app)
    prebuilt_image: bool = False  # `prebuiltImage: true`: a registry, an identity, AcrPull
    job_timeout: int | None = None
    job_secrets: tuple[str, ...] | None = None  # None: unknown here
    is_stack: bool = False

    @property
    def gpus_at_once(self) -> int:
        """GPUs the deployment can hold at once: one job execution, the app's replicas, and as
        many again while `ftk deploy` replaces a running revision. In single revision mode the
        old revision is not deactivated until the new one is ready, and ready includes scaling
        to the old one's replica count (MicrosoftDocs/azure-docs articles/container-apps/
        application-lifecycle-management.md, "Zero downtime deployment"; the ingress overview's
        "Single revision mode"; read 2026-12-05)."""
        return 1 + 2 * self.app_replicas


def from_target(target: AzureTarget, project_dir: Path) -> Deployment:
    """The deployment behind an `AzureTarget` (outputs if there are any, else stack config)."""
    stack = target.stack
    config = None
    try:
        config = target.deployment.config
    except NotFoundError:
        if stack is None:
            raise
    settings = stack.config_values() if stack is not None else {}
    if config is not None:
        return _from_outputs(config, config.from_stack, settings)
    assert stack is not None
    return _from_stack_config(stack.name, settings, project_dir)


def _from_outputs(config: TargetConfig, is_stack: bool, settings: dict[str, str]) -> Deployment:
    values = config.values
    get = config.get
    must = {
        "job": get(keys.ACA_JOB_NAME),
        "app": get(keys.ACA_APP_NAME),
        "storage account": get(keys.STORAGE_ACCOUNT_NAME),
        "environment": get(keys.ACA_ENVIRONMENT_NAME),
    }
    secrets = values.get(keys.JOB_SECRET_NAMES)
    timeout = values.get(keys.JOB_TIMEOUT_SECONDS)
    project = _project_of(settings)
    return Deployment(
        origin=f"{config.origin} ({'outputs' if is_stack else 'config files'})",
        deployed=True,
        subscription=get(keys.SUBSCRIPTION_ID),
        resource_group=get(keys.RESOURCE_GROUP_NAME),
        location=get(keys.LOCATION),
        gpu_profile=get(keys.GPU_PROFILE),
        environment=get(keys.ACA_ENVIRONMENT_NAME),
        storage_account=get(keys.STORAGE_ACCOUNT_NAME),
        must_exist={k: v for k, v in must.items() if v},
        app_replicas=_app_replicas(settings, project),
        prebuilt_image=_flag(settings, project, "prebuiltImage"),
        job_timeout=int(timeout) if timeout is not None else None,
        job_secrets=tuple(secrets) if isinstance(secrets, list) else None,
        is_stack=is_stack,
    )


def _project_of(settings: dict[str, str]) -> str:
    for key in settings:
        if ":" in key and not key.startswith("azure-native:"):
            return key.split(":", 1)[0]
    return "ftk"


def _project_name(project_dir: Path, settings: dict[str, str]) -> str:
    import yaml

    for name in ("Pulumi.yaml", "Pulumi.yml"):
        path = project_dir / name
        if path.is_file():
            data = yaml.safe_load(path.read_text()) or {}
            if isinstance(data, dict) and data.get("name"):
                return str(data["name"])
    return _project_of(settings)


def _flag(settings: dict[str, str], project: str, key: str) -> bool:
    return settings.get(f"{project}:{key}", "").strip().lower() == "true"


def _app_replicas(settings: dict[str, str], project: str) -> int:
    value = settings.get(f"{project}:maximumInstanceCount", "").strip()
    replicas = int(value) if value.isdigit() else DEFAULT_MAX_INSTANCES
    inference = settings.get(f"{project}:inferenceEnabled", "true").strip().lower() != "false"
    return replicas if inference else 0


def _from_stack_config(stack: str, settings: dict[str, str], project_dir: Path) -> Deployment:
    from stacks import naming
    from stacks.gpu import normalize_region
    from stacks.settings import DEFAULT_GPU_PROFILE, NAME_KEYS

    project = _project_name(project_dir, settings)

    def value(key: str) -> str | None:
        found = settings.get(f"{project}:{key}", "").strip()
        return found or None

    subscription = settings.get("azure-native:subscriptionId") or next(
        (os.environ[e] for e in SUBSCRIPTION_ENV if os.environ.get(e)), None
    )
    derived = naming.derived_names(project, stack, subscription or "")
    names: dict[str, str] = {}
    must: dict[str, str] = {}
    for key, _kind, attr, existing_key in NAME_KEYS:
        names[attr] = value(key) or getattr(derived, attr)
        if existing_key and _flag(settings, project, existing_key):
            must[attr.replace("_", " ")] = names[attr]
    location = value("location") or settings.get("azure-native:location")
    timeout = value("timeout")
    return Deployment(
        origin=f"stack '{stack}' (config; no outputs yet: before the first `pulumi up`)",
        deployed=False,
        subscription=subscription,
        resource_group=names["resource_group"],
        location=normalize_region(location) if location else None,
        gpu_profile=value("gpuProfile") or DEFAULT_GPU_PROFILE,
        environment=names["environment"],
        storage_account=names["storage_account"],
        new_storage_account="storage account" not in must,
        must_exist=must,
        app_replicas=_app_replicas(settings, project),
        prebuilt_image=_flag(settings, project, "prebuiltImage"),
        job_timeout=int(timeout) if timeout and timeout.isdigit() else DEFAULT_TIMEOUT,
        job_secrets=None,
        is_stack=True,
    )
