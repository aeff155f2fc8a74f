"""What each supported GPU workload profile gives a replica, and where Azure offers it.

Pure data and lookups (no pulumi import), used by `stacks.settings` to validate a stack's
config before anything is sent to Azure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class GpuProfile:
    """One ACA workload profile type that carries a GPU."""

    type: str
    gpu: str  # "A100" or "T4"
    serverless: bool  # Consumption-GPU-*: no minimum/maximum node counts (ARM rejects them)
    node_vcpu: float
    node_memory_gib: float
    replica_vcpu: float  # default CPU per replica: one GPU's share
    replica_memory_gib: float


GPU_PROFILES: Final[dict[str, GpuProfile]] = {
    p.type: p
    for p in (
        GpuProfile("Consumption-GPU-NC24-A100", "A100", True, 24, 220, 24, 220),
        GpuProfile("Consumption-GPU-NC8as-T4", "T4", True, 8, 56, 8, 56),
        GpuProfile("NC24-A100", "A100", False, 24, 220, 24, 220),
        GpuProfile("NC48-A100", "A100", False, 48, 440, 24, 220),
        GpuProfile("NC96-A100", "A100", False, 96, 880, 24, 220),
    )
}

# Where each GPU is known to be offered. Source: learn.microsoft.com, "Using serverless GPUs in
# Azure Container Apps" (ms.date 2025-06-02) and "Workload profiles" (dedicated GPU, preview).
# Azure adds regions over time: a region missing from a table only earns a warning; a region in
# a table without the chosen GPU is an error (set `skipRegionCheck` to override).
REGIONS_AS_OF: Final = "2025-06-02"
SERVERLESS_GPU_REGIONS: Final[dict[str, frozenset[str]]] = {
    "westus3": frozenset({"A100", "T4"}),
    "westus": frozenset({"A100"}),
    "australiaeast": frozenset({"A100", "T4"}),
    "swedencentral": frozenset({"A100", "T4"}),
    "westeurope": frozenset({"T4"}),
}
DEDICATED_GPU_REGIONS: Final[dict[str, frozenset[str]]] = {
    "westus3": frozenset({"A100"}),
    "northeurope": frozenset({"A100"}),
}


def normalize_region(location: str) -> str:
    """`West US 3` and `westus3` name the same region."""
    return location.replace(" ", "").lower()


def region_offers(profile: GpuProfile, location: str) -> bool | None:
    """True/False when the table knows the region, None when it does not."""
    table = SERVERLESS_GPU_REGIONS if profile.serverless else DEDICATED_GPU_REGIONS
    gpus = table.get(normalize_region(location))
    return None if gpus is None else profile.gpu in gpus


def regions_with(profile: GpuProfile) -> list[str]:
    """Regions the table lists for this profile's GPU, sorted."""
    table = SERVERLESS_GPU_REGIONS if profile.serverless else DEDICATED_GPU_REGIONS
    return sorted(r for r, gpus in table.items() if profile.gpu in gpus)
