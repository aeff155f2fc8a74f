"""How many training executions the GPU quota lets run at once, for `ftk sweep --parallel`.

The same quota `ftk doctor` checks (`azure_checks.gpu_quota`), read once when a sweep starts
(`AzureTarget.gpu_room()`).
Only serverless GPU profiles are counted: a serverless replica has exactly one GPU
(gpu-serverless-overview.md, "Considerations"), so free GPUs = executions that can start now. A
dedicated profile's capacity is its environment's nodes as much as the quota, so it is not
guessed. Anything that cannot be read (no subscription, a refused or failed call, no usage listed)
gives None: the sweep then keeps its --parallel, never a made-up cap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cli.targets.base import GpuRoom

if TYPE_CHECKING:
    from cli.targets.aca import AzureTarget


def serverless_gpu_room(target: AzureTarget) -> GpuRoom | None:
    """Free serverless GPUs for the target's job, or None where that is not known."""
    from azure.core.exceptions import AzureError

    from cli.errors import FtkError
    from cli.targets.aca.doctor.arm import ContainerAppsReader
    from cli.targets.aca.doctor.azure_checks import QUOTA_DOCS, gpu_quota
    from cli.targets.aca.doctor.checks import placed_from_job
    from cli.targets.aca.doctor.deployment import from_target
    from contract import gpus

    try:
        dep = from_target(target)
        if not dep.subscription:
            return None
        arm = ContainerAppsReader(target.deployment.connection, dep.subscription)
        dep = placed_from_job(arm, dep)
        profile = gpus.GPU_PROFILES.get(dep.gpu_profile or "")
        if profile is None or not profile.serverless or not dep.location:
            return None
        usage, scope = gpu_quota(arm, dep, profile)
    except (AzureError, FtkError, ImportError):
        return None
    if usage is None:
        return None
    name = usage.label or usage.name
    evidence = f"{name} in {scope}: {usage.current:g} of {usage.limit:g} in use"
    return GpuRoom(max(int(usage.limit - usage.current), 0), evidence, QUOTA_DOCS)
