"""What each supported GPU workload profile gives a replica, and where Azure offers it.

Pure data and lookups (the standard library only): the stack validates its config with them
before anything is sent to Azure (`stacks.settings`), and the CLI sizes a replica's price and
checks region and quota with the same table.

Sources: MicrosoftDocs/azure-docs at commit 03e5750af10b23b5ba437d5b333ec5e9437844f9 (the newest
stored copy, read 2026-12-01; docs/azure.md lists every Azure behaviour ftk relies on):
- `articles/container-apps/gpu-serverless-overview.md` (ms.date 06/02/2025, revised since):
  "Supported regions" and "Considerations";
- `articles/container-apps/workload-profiles-overview.md` (ms.date 11/04/2025): "Profile
  details" and "Resource consumption and scaling". Its 11/05/2024 revision gave each dedicated
  GPU profile's size (NC24/48/96-A100: 24/48/96 vCPU, 220/440/880 GiB, 1/2/4 GPUs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

REGIONS_AS_OF: Final = "2026-12-01"  # the day the docs above were read
REGIONS_SOURCE: Final = "learn.microsoft.com/azure/container-apps/gpu-serverless-overview"

# Dedicated nodes: "the total resources available to your apps are slightly less than the
# profile's allocation, as the runtime reserves some compute resources"
# (workload-profiles-overview.md, "Resource consumption and scaling"). The docs give no figure,
# so ftk leaves its own margin per GPU on the node: a replica sized to the whole node would never
# be scheduled. Not verified against a live node (docs/azure.md).
DEDICATED_MARGIN_VCPU: Final = 2.0
DEDICATED_MARGIN_GIB: Final = 20.0


@dataclass(frozen=True)
class GpuProfile:
    """One ACA workload profile type that carries a GPU."""

    type: str
    gpu: str  # "A100" or "T4"
    serverless: bool  # Consumption-GPU-*: no minimum/maximum node counts (ARM rejects them)
    node_vcpu: float
    node_memory_gib: float
    # GPUs per node. A serverless replica has exactly one: "Multi and fractional GPU replicas
    # aren't supported" (gpu-serverless-overview.md, "Considerations").
    node_gpus: int = 1

    @property
    def allocatable_vcpu(self) -> float:
        """What replicas can ask for: a serverless replica gets the profile's size in full."""
        if self.serverless:
            return self.node_vcpu
        return self.node_vcpu - DEDICATED_MARGIN_VCPU * self.node_gpus

    @property
    def allocatable_memory_gib(self) -> float:
        if self.serverless:
            return self.node_memory_gib
        return self.node_memory_gib - DEDICATED_MARGIN_GIB * self.node_gpus

    @property
    def replica_vcpu(self) -> float:
        """Default CPU per replica: one GPU's share of what the node has free."""
        return self.allocatable_vcpu / self.node_gpus

    @property
    def replica_memory_gib(self) -> float:
        return self.allocatable_memory_gib / self.node_gpus

    def replica_gpus(self, cpu: float) -> int:
        """GPUs a replica asking for `cpu` vCPUs gets on this profile: one GPU's share of the node
        per GPU (a dedicated node's GPUs go with its vCPUs), 1 on serverless (one per replica).
        It is FTK_GPU_PROCESSES, the data-parallel training processes of a replica."""
        if self.serverless or self.node_gpus == 1:
            return 1
        share = self.allocatable_vcpu / self.node_gpus
        return max(1, min(self.node_gpus, int(cpu / share + 1e-9)))


# Sizes: workload-profiles-overview.md, "Consumption profile details" (8-24 vCPU, 56-220 GiB per
# replica) and the dedicated GPU rows (see the module docstring).
GPU_PROFILES: Final[dict[str, GpuProfile]] = {
    p.type: p
    for p in (
        GpuProfile("Consumption-GPU-NC24-A100", "A100", True, 24, 220),
        GpuProfile("Consumption-GPU-NC8as-T4", "T4", True, 8, 56),
        GpuProfile("NC24-A100", "A100", False, 24, 220, 1),
        GpuProfile("NC48-A100", "A100", False, 48, 440, 2),
        GpuProfile("NC96-A100", "A100", False, 96, 880, 4),
    )
}

# gpu-serverless-overview.md, "Supported regions": every row says Yes or No for both GPUs, so a
# listed region without a GPU is one the docs say lacks it (an error); an unlisted region only
# earns a warning, as Azure adds regions over time.
SERVERLESS_GPU_REGIONS: Final[dict[str, frozenset[str]]] = {
    "australiaeast": frozenset({"A100", "T4"}),
    "brazilsouth": frozenset({"A100", "T4"}),
    "canadacentral": frozenset({"A100", "T4"}),
    "centralindia": frozenset({"T4"}),
    "eastus": frozenset({"A100", "T4"}),
    "francecentral": frozenset({"T4"}),
    "italynorth": frozenset({"A100", "T4"}),
    "japaneast": frozenset({"T4"}),
    "northcentralus": frozenset({"T4"}),
    "southcentralus": frozenset({"T4"}),
    "southeastasia": frozenset({"T4"}),
    "southindia": frozenset({"T4"}),
    "swedencentral": frozenset({"A100", "T4"}),
    "westeurope": frozenset({"T4"}),
    "westus": frozenset({"A100", "T4"}),
    "westus2": frozenset({"T4"}),
    "westus3": frozenset({"A100", "T4"}),
}
# Same page, footnote 1: "To add a T4 serverless GPU workload profile in West Europe, you must
# create a new workload profile environment in the region."
NEW_ENVIRONMENT_ONLY: Final[frozenset[tuple[str, str]]] = frozenset({("westeurope", "T4")})
# workload-profiles-overview.md, "Dedicated profile details": NC*-A100 in West US 3 and North
# Europe. The page lists where the profiles are, not where they are absent, so any other region
# only earns a warning.
DEDICATED_GPU_REGIONS: Final[dict[str, frozenset[str]]] = {
    "westus3": frozenset({"A100"}),
    "northeurope": frozenset({"A100"}),
}


def normalize_region(location: str) -> str:
    """`West US 3` and `westus3` name the same region."""
    return location.replace(" ", "").lower()


def region_offers(profile: GpuProfile, location: str) -> bool | None:
    """True: the docs list the GPU there; False: the docs say it is absent; None: not listed."""
    region = normalize_region(location)
    if profile.serverless:
        gpus = SERVERLESS_GPU_REGIONS.get(region)
        return None if gpus is None else profile.gpu in gpus
    return True if profile.gpu in DEDICATED_GPU_REGIONS.get(region, frozenset()) else None


def regions_with(profile: GpuProfile) -> list[str]:
    """Regions the table lists for this profile's GPU, sorted."""
    table = SERVERLESS_GPU_REGIONS if profile.serverless else DEDICATED_GPU_REGIONS
    return sorted(r for r, gpus in table.items() if profile.gpu in gpus)


def needs_new_environment(profile: GpuProfile, location: str) -> bool:
    """Whether the docs say this GPU can be added only to an environment created for it there."""
    return profile.serverless and (normalize_region(location), profile.gpu) in NEW_ENVIRONMENT_ONLY
