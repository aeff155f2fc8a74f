"""Estimated cost of an execution: dated per-second rates times the GPU profile's replica size.

What is billed (MicrosoftDocs/azure-docs, articles/container-apps/billing.md, ms.date 12/09/2025,
commit 03e5750af10b23b5ba437d5b333ec5e9437844f9): a Consumption-plan replica, serverless GPU
ones included, is billed per second for the vCPUs and GiB of memory allocated to it
(vCPU-seconds, GiB-seconds) and for its GPU (GPU-seconds). Job replicas are always billed at the
active rate, and "Idle usage charges don't apply to serverless GPU apps. They're always billed
for active usage." So an execution costs seconds x (GPU rate + vCPUs x vCPU rate + GiB x GiB
rate), where vCPUs and GiB are the profile's replica size (contract/gpus.py). The monthly free grant
(180,000 vCPU-seconds, 360,000 GiB-seconds per subscription) is left out: it is shared by
everything in the subscription.

Where the rates come from (checked 2026-12-01): billing.md gives meters, not prices; the prices
live on https://azure.microsoft.com/pricing/details/container-apps/, a dynamic page no stored
source holds. The vCPU and memory figures are that page's widely quoted pay-as-you-go active
rates in USD, not read from an official stored copy. No official per-second GPU price was found:
the A100 figure matches the pay-as-you-go price of the VM Standard_NC24ads_A100_v4 in eastus
($3.673/h, a third-party dataset retrieved 2026-11-09), the same 1x A100 80 GB hardware; the T4
figure has no source. Dedicated profiles (NC24/48/96-A100, billed per node plus a plan management
fee) are left out on purpose: no published figure was found, so `ftk ps` shows no cost for them.
Prices vary by region and change: update the figures and PRICES_AS_OF together.
"""

from __future__ import annotations

from datetime import date

from cli.targets.base import Pricing
from contract.gpus import GPU_PROFILES

PRICES_AS_OF = date(2026, 12, 1)
CURRENCY = "USD"
SOURCE = "azure.microsoft.com/pricing/details/container-apps (estimates)"
PRICES_URL = "https://azure.microsoft.com/pricing/details/container-apps/"
FORMULA = "GPU + vCPU + memory seconds of one replica"

VCPU_PRICE_PER_SECOND = 0.000024  # active rate, per vCPU-second (unverified, see above)
GIB_PRICE_PER_SECOND = 0.000003  # active rate, per GiB-second (unverified, see above)
# Workload profile type -> price per GPU-second (estimates, see above).
GPU_PRICE_PER_SECOND: dict[str, float] = {
    "Consumption-GPU-NC24-A100": 3.672 / 3600,  # 1x A100 80 GB
    "Consumption-GPU-NC8as-T4": 0.576 / 3600,  # 1x T4 16 GB, no source found
}


def price_per_second(profile: str | None) -> float | None:
    """What one replica of `profile` costs per second; None when ftk has no price for it."""
    gpu_price = GPU_PRICE_PER_SECOND.get(profile or "")
    spec = GPU_PROFILES.get(profile or "")
    if gpu_price is None or spec is None:
        return None
    return (
        gpu_price
        + spec.replica_vcpu * VCPU_PRICE_PER_SECOND
        + spec.replica_memory_gib * GIB_PRICE_PER_SECOND
    )


def estimate_cost(profile: str | None, seconds: float | None) -> float | None:
    return pricing(profile).cost(seconds)


def pricing(profile: str | None) -> Pricing:
    """What an execution on `profile` costs (`AzureTarget.pricing()`), with this list's date."""
    return Pricing(
        per_second=price_per_second(profile),
        currency=CURRENCY,
        as_of=PRICES_AS_OF,
        source=SOURCE,
        formula=FORMULA,
        url=PRICES_URL,
    )
