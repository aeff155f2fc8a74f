"""What a target says about the deployment the doctor examines, deployed or not yet.

After `pulumi up` (or from `--infra` files) the output-contract values name every resource.
Before the first `pulumi up` a stack has only its config: the names are derived the way the
program derives them (`contract.naming`), the region and GPU profile come from the same keys, read
by the same reader and table of defaults as the program's (`contract.stack_config`), and
resources flagged `existing*` must already exist. A value that breaks its key's rule is a
problem the doctor reports (`pulumi up` would stop on it); the doctor goes on with the default.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cli.errors import NotFoundError
from contract import outputs as keys
from contract.stack_config import NAME_KEYS, StackConfig, StackConfigError, default

if TYPE_CHECKING:
    from cli.targets.aca import AzureTarget
    from cli.targets.azure.config import TargetConfig

SUBSCRIPTION_ENV = ("AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID")
T = TypeVar("T")


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
    # (what is wrong, the fix) per stack config value `pulumi up` would stop on.
    config_problems: tuple[tuple[str, str], ...] = ()

    @property
    def gpus_at_once(self) -> int:
        """GPUs the deployment can hold at once: one job execution, the app's replicas, and as
        many again while `ftk deploy` replaces a running revision. In single revision mode the
        old revision is not deactivated until the new one is ready, and ready includes scaling
        to the old one's replica count (MicrosoftDocs/azure-docs articles/container-apps/
        application-lifecycle-management.md, "Zero downtime deployment"; the ingress overview's
        "Single revision mode"; read 2026-12-05)."""
        return 1 + 2 * self.app_replicas


def from_target(target: AzureTarget) -> Deployment:
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
        # The namespace of the stack's keys: the project's name (Pulumi.yaml) where there is one.
        project = _project_name(stack.project_dir, settings) if stack else _project_of(settings)
        return _from_outputs(config, config.from_stack, _reader(settings, project), settings)
    assert stack is not None
    return _from_stack_config(stack.name, settings, stack.project_dir)


def _from_outputs(
    config: TargetConfig, is_stack: bool, r: StackConfig, settings: dict[str, str]
) -> Deployment:
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
        app_replicas=_app_replicas(r),
        prebuilt_image=_tolerant(lambda: r.boolean("prebuiltImage"), False),
        job_timeout=int(timeout) if timeout is not None else None,
        job_secrets=tuple(secrets) if isinstance(secrets, list) else None,
        is_stack=is_stack,
        config_problems=_problems(r, settings) if is_stack else (),
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


def _reader(settings: dict[str, str], project: str) -> StackConfig:
    return StackConfig.from_values(settings, project)


def _tolerant(read: Callable[[], T], fallback: T) -> T:
    """A key's value by its rule, or `fallback` where it breaks it (reported by `_problems`)."""
    try:
        return read()
    except StackConfigError:
        return fallback


def _problems(r: StackConfig, settings: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """(what is wrong, the fix) for each unknown key in the project's namespace and each value
    that breaks its key's rule."""
    prefix = r.full_key("")
    names = sorted(k.removeprefix(prefix) for k in settings if k.startswith(prefix))
    found = []
    for name in names:
        unknown = r.unknown(name) if "." not in name else None
        if unknown:
            found.append((unknown, f"`pulumi config rm {name}`"))
    for key, message in r.problems().items():
        fix = f"`pulumi config set {key} VALUE` with a value the rule allows"
        found.append((message, fix))
    return tuple(found)


def _app_replicas(r: StackConfig) -> int:
    replicas = _tolerant(lambda: r.integer("maximumInstanceCount"), default("maximumInstanceCount"))
    inference = _tolerant(lambda: r.boolean("inferenceEnabled"), True)
    return replicas if inference else 0


def _from_stack_config(stack: str, settings: dict[str, str], project_dir: Path) -> Deployment:
    from contract import naming
    from contract.gpus import normalize_region

    project = _project_name(project_dir, settings)
    r = _reader(settings, project)
    subscription = settings.get("azure-native:subscriptionId") or next(
        (os.environ[e] for e in SUBSCRIPTION_ENV if os.environ.get(e)), None
    )
    derived = naming.derived_names(project, stack, subscription or "")
    names: dict[str, str] = {}
    must: dict[str, str] = {}
    for key, _kind, attr, existing_key in NAME_KEYS:
        names[attr] = r.raw(key) or getattr(derived, attr)
        if existing_key and _tolerant(functools.partial(r.boolean, existing_key), False):
            must[attr.replace("_", " ")] = names[attr]
    location = r.raw("location") or settings.get("azure-native:location")
    return Deployment(
        origin=f"stack '{stack}' (config; no outputs yet: before the first `pulumi up`)",
        deployed=False,
        subscription=subscription,
        resource_group=names["resource_group"],
        location=normalize_region(location) if location else None,
        # a profile ftk does not know stays as written: the region and quota rows name it
        gpu_profile=r.raw("gpuProfile") or default("gpuProfile"),
        environment=names["environment"],
        storage_account=names["storage_account"],
        new_storage_account="storage account" not in must,
        must_exist=must,
        app_replicas=_app_replicas(r),
        prebuilt_image=_tolerant(lambda: r.boolean("prebuiltImage"), False),
        job_timeout=_tolerant(lambda: r.integer("timeout"), default("timeout")),
        job_secrets=None,
        is_stack=True,
        config_problems=_problems(r, settings),
    )
