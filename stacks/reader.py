"""Reads the stack's config once into `Settings`: typed values, or one clear `SettingsError`.

`load_settings()` is what `__main__.py` calls before any resource is declared. Keys, defaults
and the `Settings` type live in `stacks.settings`.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import pulumi

from contract.commands import STARTED_PORT
from contract.engines import ENGINES
from contract.outputs import DEFAULT_MOUNT_PATH
from contract.secrets import RULE as SECRET_NAME_RULE
from contract.secrets import is_valid_secret_name
from stacks import gpu, naming
from stacks.config_reader import ConfigReader
from stacks.settings import (
    DEFAULT_BASE_MODEL,
    DEFAULT_COMMANDS,
    DEFAULT_GPU_PROFILE,
    DEFAULT_IMAGE,
    INFERENCE_ENGINES,
    KEYS,
    NAME_KEYS,
    PROBE_MAX_DELAY,
    PROBE_MAX_FAILURES,
    PROBE_MAX_PERIOD,
    STORAGE_SKUS,
    Existing,
    InferenceSettings,
    Settings,
    SettingsError,
    default_engine,
)


def load_settings(config: pulumi.Config | None = None) -> Settings:
    """Read and validate the stack's config (project namespace, plus azure-native:location)."""
    config = config or pulumi.Config()
    r = ConfigReader(config)
    _reject_unknown_keys(config)

    existing = Existing(**{n.field: r.boolean(n.existing_key) for n in NAME_KEYS if n.existing_key})
    overrides = _name_overrides(r, existing)
    location, location_key = _location(r, existing)

    profile = gpu.GPU_PROFILES[r.choice("gpuProfile", DEFAULT_GPU_PROFILE, tuple(gpu.GPU_PROFILES))]
    max_instances = r.integer("maximumInstanceCount", 1, 1, 100)
    gpu_min, gpu_max = _gpu_counts(r, profile, max_instances)
    timeout = r.integer("timeout", 10800, 1, 86400, " of seconds")
    secret_names, secrets = _job_secrets(r, config)
    image = r.string("image", DEFAULT_IMAGE) or DEFAULT_IMAGE
    return Settings(
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        location=location,
        location_key=location_key,
        name_overrides=overrides,
        existing=existing,
        storage_sku=r.choice("storageSku", "Standard_LRS", STORAGE_SKUS),
        file_share_quota_gib=r.integer("fileShareQuotaGiB", 1024, 1, 102400, " of GiB"),
        share_soft_delete_days=r.integer("shareSoftDeleteDays", 7, 1, 365, " of days"),
        log_retention_days=r.integer("logRetentionDays", 30, 30, 730, " of days"),
        gpu=profile,
        gpu_workload_profile_name=_profile_name(r),
        gpu_minimum_count=gpu_min,
        gpu_maximum_count=gpu_max,
        maximum_instance_count=max_instances,
        cpu=_cpu(r, profile),
        memory=_memory(r, profile),
        image=image,
        commands=_commands(r),
        timeout=timeout,
        replica_retry_limit=r.integer("replicaRetryLimit", 0, 0, 10),
        mount_path=_mount_path(r),
        job_secret_names=secret_names,
        job_secrets=secrets,
        inference=_inference(r, max_instances, image, profile),
        prebuilt_image_source=_prebuilt_image_source(r),
        skip_region_check=r.boolean("skipRegionCheck"),
        extra_tags=_tags(r),
    )


def _reject_unknown_keys(config: pulumi.Config) -> None:
    # A typo ("gpuProfle") would otherwise fall back to a default without a word. The language
    # host hands the program its whole config as PULUMI_CONFIG, which the public
    # `pulumi.runtime.get_config_env()` reads.
    prefix = f"{config.name}:"
    set_keys = set(pulumi.runtime.get_config_env())
    for full in sorted(set_keys):
        key = full[len(prefix) :]
        if full.startswith(prefix) and "." in key and key.split(".")[0] in KEYS:
            raise SettingsError(
                f"{full} is a key with a dot in its name, not a path: set it with "
                f"`pulumi config set --path '{key}' ...` (add --secret for a secret)."
            )
        if full.startswith(prefix) and key not in KEYS:
            near = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean {config.full_key(near[0])}?" if near else "see docs/infra.md"
            raise SettingsError(f"{full} is not a key ftk reads; {hint}")


def _name_overrides(r: ConfigReader, existing: Existing) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for n in NAME_KEYS:
        value = r.raw(n.key)
        if value is None:
            if n.existing_key and getattr(existing, n.field):
                raise r.fail(n.existing_key, "true", f"needs {r.config.full_key(n.key)} set too")
            continue
        rule = naming.RULES[n.kind]
        if not rule.obeyed_by(value):
            raise r.fail(n.key, value, f"Azure requires {rule.text}")
        overrides[n.field] = value
    if existing.file_share and not existing.storage_account:
        raise r.fail("existingFileShare", "true", "needs existingStorageAccount true as well")
    if existing.environment_storage and not existing.environment:
        raise r.fail("existingEnvironmentStorage", "true", "needs existingEnvironment true too")
    return overrides


def _location(r: ConfigReader, existing: Existing) -> tuple[str | None, str]:
    pattern = r"[A-Za-z][A-Za-z0-9 ]*"
    value = r.raw("location")
    if value is not None:
        if not re.fullmatch(pattern, value):
            raise r.fail("location", value, "must be an Azure region such as swedencentral")
        return gpu.normalize_region(value), r.config.full_key("location")
    provider = pulumi.Config("azure-native").get("location")
    if provider:
        return gpu.normalize_region(provider), "azure-native:location"
    if not existing.resource_group:
        raise SettingsError(
            f"No region: set {r.config.full_key('location')} or azure-native:location "
            "(e.g. `pulumi config set azure-native:location swedencentral`), or name an "
            "existing resource group whose region is used."
        )
    return None, "location of the existing resource group"


def _gpu_counts(
    r: ConfigReader, profile: gpu.GpuProfile, max_instances: int
) -> tuple[int | None, ...]:
    if profile.serverless:
        for key in ("gpuMinimumCount", "gpuMaximumCount"):
            if r.raw(key) is not None:
                raise r.fail(
                    key,
                    r.raw(key),
                    f"serverless profile {profile.type} takes no node counts (ARM rejects "
                    "them); unset it, or pick a dedicated profile such as NC24-A100",
                )
        return None, None
    lo = r.integer("gpuMinimumCount", 0, 0, 100)
    hi = r.integer("gpuMaximumCount", max_instances, 1, 100)
    if lo > hi:
        raise r.fail("gpuMinimumCount", str(lo), f"must not exceed gpuMaximumCount ({hi})")
    return lo, hi


def _profile_name(r: ConfigReader) -> str:
    value = r.string("gpuWorkloadProfileName", "GPU") or "GPU"
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,31}", value) or value == "Consumption":
        raise r.fail(
            "gpuWorkloadProfileName",
            value,
            "must be 1-32 letters, digits or '-', start with a letter, and not be 'Consumption'",
        )
    return value


def _cpu(r: ConfigReader, profile: gpu.GpuProfile) -> float:
    value = r.raw("cpu")
    if value is None:
        return profile.replica_vcpu
    try:
        cpu = float(value)
    except ValueError:
        cpu = -1.0
    if not 0 < cpu <= profile.node_vcpu:
        rule = f"must be a number of vCPUs above 0, at most {profile.node_vcpu:g} on {profile.type}"
        raise r.fail("cpu", value, rule)
    _warn_above_allocatable(r, "cpu", value, cpu, profile.allocatable_vcpu, profile)
    return cpu


def _memory(r: ConfigReader, profile: gpu.GpuProfile) -> str:
    value = r.raw("memory")
    if value is None:
        return f"{profile.replica_memory_gib:g}Gi"
    m = re.fullmatch(r"(\d+(?:\.\d+)?)Gi", value)
    if not m or not 0 < float(m.group(1)) <= profile.node_memory_gib:
        raise r.fail(
            "memory",
            value,
            f"must look like '220Gi', at most {profile.node_memory_gib:g}Gi on {profile.type}",
        )
    gib = float(m.group(1))
    _warn_above_allocatable(r, "memory", value, gib, profile.allocatable_memory_gib, profile)
    return value


def _warn_above_allocatable(
    r: ConfigReader,
    key: str,
    value: str,
    amount: float,
    allocatable: float,
    profile: gpu.GpuProfile,
) -> None:
    # A dedicated node keeps part of itself for the runtime (stacks/gpu.py says how much ftk
    # leaves free); a replica asking for more may never be scheduled.
    if amount > allocatable:
        pulumi.log.warn(
            f"{r.config.full_key(key)} = {value!r} is more than ftk expects a {profile.type} node "
            f"to have free ({allocatable:g}: the runtime reserves part of each node); replicas "
            "that ask for it may never be scheduled."
        )


def _commands(r: ConfigReader) -> tuple[str, ...]:
    value = r.json_value("commands")
    if value is None:
        return DEFAULT_COMMANDS
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(c, str) and c.strip() for c in value)
    ):
        raise r.fail("commands", value, "must be a non-empty list of non-empty strings")
    return tuple(value)


def _mount_path(r: ConfigReader) -> str:
    value = r.raw("mountPath") or DEFAULT_MOUNT_PATH
    if not re.fullmatch(r"(/[A-Za-z0-9._-]+)+", value):
        raise r.fail("mountPath", value, "must be an absolute path like /mount, no trailing '/'")
    return value


def _job_secrets(r: ConfigReader, config: pulumi.Config) -> tuple[tuple[str, ...], Any]:
    raw = r.json_value("jobSecrets")
    if raw is None:
        return (), None
    key = config.full_key("jobSecrets")
    if not isinstance(raw, dict):
        raise SettingsError(
            f"{key} is invalid: must be an object of NAME: value; set one with "
            f"`pulumi config set --secret --path 'jobSecrets.HF_TOKEN'`."
        )
    for name, value in raw.items():
        # Never echo the value: it is a secret.
        if not is_valid_secret_name(name):
            raise SettingsError(f"{key}.{name} is invalid: {SECRET_NAME_RULE}.")
        if not isinstance(value, str) or not value:
            raise SettingsError(f"{key}.{name} is invalid: the value must be a non-empty string.")
    return tuple(sorted(raw)), config.get_secret_object("jobSecrets")


def _inference(
    r: ConfigReader, max_instances: int, job_image: str, profile: gpu.GpuProfile
) -> InferenceSettings | None:
    if not r.boolean("inferenceEnabled", True):
        return None
    engine = r.choice("inferenceEngine", default_engine(profile), INFERENCE_ENGINES)
    image = ENGINES[engine].image or job_image  # its own pinned image, else the job's
    port = r.integer("inferencePort", 8000, 1, 65535)
    if port == STARTED_PORT:
        raise r.fail("inferencePort", port, "is the startup probe's port; use another")
    return InferenceSettings(
        base_model=r.string("inferenceBaseModel", DEFAULT_BASE_MODEL) or DEFAULT_BASE_MODEL,
        engine=engine,
        image=r.string("inferenceImage", image) or image,
        port=port,
        min_replicas=r.integer("inferenceMinReplicas", 0, 0, max_instances),
        max_replicas=max_instances,
        startup_seconds=r.integer(
            "inferenceStartupSeconds",
            1800,
            10,
            PROBE_MAX_DELAY + PROBE_MAX_PERIOD * PROBE_MAX_FAILURES,
            " of seconds",
        ),
    )


def _prebuilt_image_source(r: ConfigReader) -> str | None:
    source = r.string("prebuiltImageSource")
    if not r.boolean("prebuiltImage"):
        if source is not None:
            raise r.fail("prebuiltImageSource", source, "is only read with prebuiltImage true")
        return None
    if source is None or not re.match(r"https://\S+", source):
        raise r.fail(
            "prebuiltImage",
            "true",
            "needs prebuiltImageSource: the https URL of a git repository holding this project, "
            "e.g. https://github.com/you/ftk.git#main (ACR builds from a remote context only)",
        )
    return source


def _tags(r: ConfigReader) -> dict[str, str]:
    value = r.json_value("tags")
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise r.fail("tags", value, "must be an object of string: string")
    return dict(value)
