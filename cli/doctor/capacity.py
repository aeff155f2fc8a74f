"""How many training executions the GPU quota lets run at once, for `ftk sweep --parallel`.

The same quota `ftk doctor` checks (`azure_checks.gpu_quota`), read once when a sweep starts.
Only serverless GPU profiles are counted: a serverless replica has exactly one GPU
(gpu-serverless-overview.md, "Considerations"), so free GPUs = executions that can start now. A
dedicated profile's capacity is its environment's nodes as much as the quota, so it is not
guessed. Anything that cannot be read (no subscription, a refused or failed call, no usage listed)
gives None: the sweep then keeps its --parallel, never a made-up cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cli.targets.base import Target


@dataclass(frozen=True)
class GpuRoom:
    free: int  # GPUs not in use now (limit - current), at least 0
    evidence: str  # the quota's name, where it was read, current and limit


def serverless_gpu_room(target: Target, project_dir: Path) -> GpuRoom | None:
    """Free serverless GPUs for the target's job, or None where that is not known."""
    from cli.targets.azure import AzureTarget

    if not isinstance(target, AzureTarget):
        return None
    from azure.core.exceptions import AzureError

    from cli.doctor.arm import ArmReader
    from cli.doctor.azure_checks import gpu_quota
    from cli.doctor.deployment import from_target
    from cli.doctor.diagnose import placed_from_job
    from cli.errors import FtkError
    from stacks import gpu

    try:
        dep = from_target(target, project_dir)
        if not dep.subscription:
            return None
        arm = ArmReader(target.deployment.connection, dep.subscription)
        dep = placed_from_job(arm, dep)
        profile = gpu.GPU_PROFILES.get(dep.gpu_profile or "")
        if profile is None or not profile.serverless or not dep.location:
            return None
        usage, scope = gpu_quota(arm, dep, profile)
    except (AzureError, FtkError, ImportError):
        return None
    if usage is None:
        return None
    name = usage.label or usage.name
    evidence = f"{name} in {scope}: {usage.current:g} of {usage.limit:g} in use"
    return GpuRoom(max(int(usage.limit - usage.current), 0), evidence)
