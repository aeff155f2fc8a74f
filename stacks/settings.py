"""The stack's settings: the frozen, typed `Settings`, its config keys and their defaults.

Every key lives in the project namespace (`pulumi config set gpuProfile ...` writes
`ftk:gpuProfile`); `KEYS` lists them and Pulumi.yaml documents them. Each default is written
here and only here. `stacks.reader.load_settings` reads and validates the config into
`Settings`; a bad value raises `SettingsError`, which names the key, the value and the rule,
before anything is sent to Azure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import pulumi

from contract import engines, env
from contract.commands import JOB_COMMANDS
from stacks import gpu, naming


class SettingsError(pulumi.RunError):
    """A config value breaks its rule. Pulumi shows the message alone, without a traceback."""


DEFAULT_GPU_PROFILE: Final = "Consumption-GPU-NC24-A100"
DEFAULT_IMAGE: Final = "docker.io/pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime"
DEFAULT_BASE_MODEL: Final = "microsoft/Phi-3-mini-4k-instruct"
DEFAULT_COMMANDS: Final = JOB_COMMANDS  # the `commands` key's default
INFERENCE_ENGINES: Final = tuple(engines.ENGINES)  # the registry, contract/engines.py
STORAGE_SKUS: Final = (
    "Standard_LRS",
    "Standard_ZRS",
    "Standard_GRS",
    "Standard_RAGRS",
    "Standard_GZRS",
    "Standard_RAGZRS",
)
# ACA probe limits: initialDelaySeconds <= 60, periodSeconds <= 240, failureThreshold <= 10.
PROBE_MAX_DELAY: Final = 60
PROBE_MAX_PERIOD: Final = 240
PROBE_MAX_FAILURES: Final = 10


class NameKey(NamedTuple):
    """One resource name the user may set (and, for most, reference instead of create)."""

    key: str  # config key of the name
    kind: str  # its rule in naming.RULES
    field: str  # the StackNames / Existing field
    existing_key: str | None  # config key of the "reference an existing one" flag


NAME_KEYS: Final = (
    NameKey("resourceGroupName", "resourceGroup", "resource_group", "existingResourceGroup"),
    NameKey("storageAccountName", "storageAccount", "storage_account", "existingStorageAccount"),
    NameKey("fileShareName", "fileShare", "file_share", "existingFileShare"),
    NameKey("acaLogAnalyticsName", "logAnalytics", "log_analytics", "existingLogAnalytics"),
    NameKey("acaEnvironmentName", "environment", "environment", "existingEnvironment"),
    NameKey(
        "acaEnvironmentStorageName",
        "environmentStorage",
        "environment_storage",
        "existingEnvironmentStorage",
    ),
    NameKey("acaJobName", "job", "job", None),
    NameKey("acaAppName", "containerApp", "app", None),
)
KEYS: Final = (
    "location",
    *(n.key for n in NAME_KEYS),
    *(n.existing_key for n in NAME_KEYS if n.existing_key),
    "storageSku",
    "fileShareQuotaGiB",
    "shareSoftDeleteDays",
    "logRetentionDays",
    "gpuProfile",
    "gpuWorkloadProfileName",
    "gpuMinimumCount",
    "gpuMaximumCount",
    "maximumInstanceCount",
    "cpu",
    "memory",
    "image",
    "commands",
    "timeout",
    "replicaRetryLimit",
    "mountPath",
    "jobSecrets",
    "inferenceEnabled",
    "inferenceEngine",
    "inferenceBaseModel",
    "inferenceImage",
    "inferencePort",
    "inferenceMinReplicas",
    "inferenceStartupSeconds",
    "skipRegionCheck",
    "tags",
    "prebuiltImage",
    "prebuiltImageSource",
)


@dataclass(frozen=True)
class Existing:
    """Which resources the stack references instead of creating (never deleted by destroy)."""

    resource_group: bool = False
    storage_account: bool = False
    file_share: bool = False
    log_analytics: bool = False
    environment: bool = False
    environment_storage: bool = False


def default_engine(profile: gpu.GpuProfile) -> str:
    """The registry's engine for the profile's GPU (`ServingEngine.default_gpus`): vLLM on A100
    profiles (continuous batching and paged attention pay off there); the transformers app on T4,
    where a scale-to-zero app mostly pays cold starts (docs/inference.md, "Which engine")."""
    return engines.default_for(profile.gpu).name


class StartupProbe(NamedTuple):
    """Probe timing whose failures add up to the inference app's start budget (the liveness
    probe's: stacks/inference.py)."""

    initial_delay_seconds: int
    period_seconds: int
    failure_threshold: int


@dataclass(frozen=True)
class InferenceSettings:
    """The inference app; absent from `Settings` when `inferenceEnabled` is false."""

    base_model: str
    engine: str  # one of INFERENCE_ENGINES
    image: str
    port: int
    min_replicas: int
    max_replicas: int
    startup_seconds: int

    @property
    def startup_probe(self) -> StartupProbe:
        """Timing whose budget covers `startup_seconds` within ACA's probe limits."""
        delay = min(PROBE_MAX_DELAY, self.startup_seconds)
        period = max(1, -(-(self.startup_seconds - delay) // PROBE_MAX_FAILURES))
        return StartupProbe(delay, min(period, PROBE_MAX_PERIOD), PROBE_MAX_FAILURES)


@dataclass(frozen=True)
class Settings:
    """Everything the program needs, typed and validated."""

    project: str
    stack: str
    location: str | None  # None: the existing resource group's location
    location_key: str  # where the location came from, for error messages
    name_overrides: Mapping[str, str]  # StackNames field -> name the user set
    existing: Existing
    storage_sku: str
    file_share_quota_gib: int
    share_soft_delete_days: int
    log_retention_days: int
    gpu: gpu.GpuProfile
    gpu_workload_profile_name: str
    gpu_minimum_count: int | None  # dedicated profiles only
    gpu_maximum_count: int | None
    maximum_instance_count: int
    cpu: float
    memory: str
    image: str
    commands: tuple[str, ...]
    timeout: int
    replica_retry_limit: int
    mount_path: str
    job_secret_names: tuple[str, ...]
    inference: InferenceSettings | None
    # prebuiltImage: the remote build context (git URL) of the image with the dependencies
    # baked in; None (the default) installs them on the share once per lock instead.
    prebuilt_image_source: str | None
    skip_region_check: bool
    extra_tags: Mapping[str, str]
    # The values stay inside a secret Output; never in repr, never compared.
    job_secrets: pulumi.Output[Any] | None = field(default=None, repr=False, compare=False)

    @property
    def time_budget_seconds(self) -> int:
        """FTK_TIME_BUDGET_SECONDS: the replica timeout less a margin to save a checkpoint."""
        return env.time_budget_seconds(self.timeout)

    @property
    def model_cache(self) -> str:
        return env.model_cache_path(self.mount_path)

    @property
    def tags(self) -> dict[str, str]:
        """Tags on every resource that takes them; ours win over `tags` from config."""
        return {
            **self.extra_tags,
            "project": self.project,
            "stack": self.stack,
            "managed-by": "pulumi",
        }

    def names(self, seed: str) -> naming.StackNames:
        """Physical names: the user's, else derived (`seed` keeps the storage account unique)."""
        derived = naming.derived_names(self.project, self.stack, seed)
        fields = {
            n.field: self.name_overrides.get(n.field, getattr(derived, n.field)) for n in NAME_KEYS
        }
        return naming.StackNames(**fields)

    def job_secret(self, name: str) -> pulumi.Output[str]:
        """One job secret's value, still secret."""
        assert self.job_secrets is not None
        return pulumi.Output.secret(self.job_secrets.apply(lambda d: str(d[name])))

    def check_region(self, location: str) -> None:
        """Reject a region the docs say lacks the GPU; warn about one they do not list."""
        offered = gpu.region_offers(self.gpu, location)
        where = ", ".join(gpu.regions_with(self.gpu))
        source = f"{gpu.REGIONS_SOURCE}, read {gpu.REGIONS_AS_OF}"
        if offered is None:
            pulumi.log.warn(
                f"{self.location_key} = {location!r}: the GPU region list ({source}) does not "
                f"list this region for {self.gpu.type}; it lists: {where}. Going ahead: Azure "
                "will reject the environment if the region lacks the GPU."
            )
        elif not offered and not self.skip_region_check:
            raise SettingsError(
                f"{self.location_key} = {location!r} is invalid: {source} says {self.gpu.type} "
                f"({self.gpu.gpu}) is not offered there; it is in {where}. Pick one of those, or "
                f"set {_full('skipRegionCheck')} true if Azure has added it since."
            )
        if gpu.needs_new_environment(self.gpu, location) and self.existing.environment:
            pulumi.log.warn(
                f"{self.gpu.type} in {location}: Azure adds this profile only to a workload "
                "profiles environment newly created in the region (gpu-serverless-overview, "
                "'Supported regions'); the existing environment must already carry it."
            )


def _full(key: str) -> str:
    return f"{pulumi.get_project()}:{key}"
