"""The whole program as one function, `build(settings)`, called by `__main__.py` and the tests."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.resources as resources

from contract import env as contract_env
from contract.engines import ENGINES
from stacks.environment import Environment, EnvironmentArgs
from stacks.gpu import normalize_region
from stacks.inference import HF_TOKEN, InferenceApp, InferenceAppArgs
from stacks.job import FinetuningJob, FinetuningJobArgs
from stacks.monitoring import Monitoring, MonitoringArgs
from stacks.naming import StackNames, pull_identity_name, registry_name
from stacks.registry import ImageRegistry, ImageRegistryArgs, RegistryPull, image_tag
from stacks.settings import Settings, SettingsError
from stacks.share_mount import ShareWorkload
from stacks.storage import Storage, StorageArgs


@dataclass(frozen=True)
class Stack:
    """What `build` made; `stacks.outputs` turns it into the stack outputs."""

    settings: Settings
    subscription_id: str
    resource_group_name: pulumi.Output[str]
    location: str
    names: StackNames
    storage: Storage
    monitoring: Monitoring | None  # None: an existing environment and no workspace named
    environment: Environment
    job: FinetuningJob
    inference: InferenceApp | None  # None: inferenceEnabled is false
    registry: ImageRegistry | None = None  # None: prebuiltImage is false


def build(settings: Settings) -> Stack:
    """Declare every resource of one stack, in dependency order."""
    subscription_id = authorization.get_client_config().subscription_id
    names = settings.names(seed=subscription_id)
    rg_name, location = _resource_group(settings, names)
    tags = settings.tags
    ex = settings.existing

    storage = Storage(
        "storage",
        StorageArgs(
            resource_group_name=rg_name,
            location=location,
            account_name=names.storage_account,
            share_name=names.file_share,
            existing_account=ex.storage_account,
            existing_share=ex.file_share,
            sku=settings.storage_sku,
            share_quota_gib=settings.file_share_quota_gib,
            soft_delete_days=settings.share_soft_delete_days,
            tags=tags,
        ),
    )
    monitoring = None
    if not ex.environment or ex.log_analytics:
        monitoring = Monitoring(
            "monitoring",
            MonitoringArgs(
                resource_group_name=rg_name,
                location=location,
                workspace_name=names.log_analytics,
                existing=ex.log_analytics,
                retention_days=settings.log_retention_days,
                tags=tags,
            ),
        )
    environment = Environment(
        "environment",
        EnvironmentArgs(
            resource_group_name=rg_name,
            location=location,
            environment_name=names.environment,
            existing_environment=ex.environment,
            storage_name=names.environment_storage,
            existing_storage=ex.environment_storage,
            gpu_profile_type=settings.gpu.type,
            gpu_profile_name=settings.gpu_workload_profile_name,
            gpu_minimum_count=settings.gpu_minimum_count,
            gpu_maximum_count=settings.gpu_maximum_count,
            log_customer_id=monitoring.customer_id if monitoring else None,
            log_shared_key=monitoring.shared_key if monitoring else None,
            storage_account_name=storage.account_name,
            storage_account_key=storage.account_key,
            share_name=storage.share_name,
            tags=tags,
        ),
    )
    registry = _registry(settings, subscription_id, rg_name, location)
    pull = RegistryPull(registry.login_server, registry.identity_id) if registry else None
    workload = ShareWorkload(
        resource_group_name=rg_name,
        location=location,
        environment_id=environment.environment_id,
        workload_profile_name=settings.gpu_workload_profile_name,
        cpu=settings.cpu,
        memory=settings.memory,
        mount_path=settings.mount_path,
        storage_name=environment.storage_name,
        tags=tags,
    )
    job = FinetuningJob(
        "finetuning",
        FinetuningJobArgs(
            workload=workload,
            job_name=names.job,
            image=registry.image if registry else settings.image,
            commands=settings.commands,
            timeout=settings.timeout,
            replica_retry_limit=settings.replica_retry_limit,
            env=contract_env.job_env(
                settings.mount_path,
                time_budget_seconds=settings.time_budget_seconds,
                gpu_processes=settings.gpu.replica_gpus(settings.cpu),
            ),
            secrets={n: settings.job_secret(n) for n in settings.job_secret_names},
            pull=pull,
        ),
    )
    inference = None
    if settings.inference is not None:
        inf = settings.inference
        engine = ENGINES[inf.engine]
        # An engine with its own image runs it as configured; one that runs in the job's image
        # runs the prebuilt image instead when there is one (it bakes in the serve lock).
        own_image = engine.image is not None
        inference = InferenceApp(
            "inference",
            InferenceAppArgs(
                workload=workload,
                app_name=names.app,
                engine=engine,
                image=registry.image if registry and not own_image else inf.image,
                port=inf.port,
                min_replicas=inf.min_replicas,
                max_replicas=inf.max_replicas,
                startup_probe=inf.startup_probe,
                env=contract_env.app_env(
                    settings.mount_path, base_model=inf.base_model, port=inf.port
                ),
                pull=None if own_image else pull,
                hf_token=(
                    settings.job_secret(HF_TOKEN) if HF_TOKEN in settings.job_secret_names else None
                ),
            ),
        )
    return Stack(
        settings=settings,
        subscription_id=subscription_id,
        resource_group_name=rg_name,
        location=location,
        names=names,
        storage=storage,
        monitoring=monitoring,
        environment=environment,
        job=job,
        inference=inference,
        registry=registry,
    )


def _registry(
    settings: Settings, subscription_id: str, rg_name: pulumi.Output[str], location: str
) -> ImageRegistry | None:
    """With prebuiltImage: the registry that builds the image the job and the app then run."""
    if settings.prebuilt_image_source is None:
        return None
    return ImageRegistry(
        "registry",
        ImageRegistryArgs(
            resource_group_name=rg_name,
            location=location,
            subscription_id=subscription_id,
            registry_name=registry_name(settings.project, settings.stack, subscription_id),
            identity_name=pull_identity_name(settings.project, settings.stack),
            source=settings.prebuilt_image_source,
            base_image=settings.image,
            tag=image_tag(),
            tags=settings.tags,
        ),
    )


def _resource_group(settings: Settings, names: StackNames) -> tuple[pulumi.Output[str], str]:
    """An existing group is only read (never managed, so never deleted); else one is created.

    The region is checked against the GPU before the first resource is declared.
    """
    if settings.existing.resource_group:
        found = resources.get_resource_group(resource_group_name=names.resource_group)
        location = settings.location or normalize_region(found.location)
        settings.check_region(location)
        return pulumi.Output.from_input(found.name), location
    if settings.location is None:  # load_settings guarantees a location here
        raise SettingsError("No region: set azure-native:location.")
    settings.check_region(settings.location)
    group = resources.ResourceGroup(
        "resource-group",
        resource_group_name=names.resource_group,
        location=settings.location,
        tags=settings.tags,
    )
    return group.name, settings.location
