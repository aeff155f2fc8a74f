"""Estimated GPU cost of an execution: one dated table of prices per GPU profile.

Azure Container Apps bills serverless GPUs per second. The prices below are approximate
pay-as-you-go list prices in USD for the GPU meter alone (vCPU and memory are billed apart and are
small next to it); they vary by region and change over time. Check
https://azure.microsoft.com/pricing/details/container-apps/ and update the table and its date.
"""

from __future__ import annotations

from datetime import date

PRICES_AS_OF = date(2026, 11, 1)
CURRENCY = "USD"

# Workload profile type -> price per GPU-second.
#
# Where these figures come from (checked 2026-11-27): both are the core engineer's estimates. A
# search of public docs and pages found no authoritative per-second price for ACA serverless GPUs:
# Microsoft Learn's billing page only says GPUs are a "GPU-seconds" meter, and the prices live on
# the (dynamic) pricing page above. The A100 figure matches the pay-as-you-go VM price of
# Standard_NC24ads_A100_v4 in eastus ($3.673/h, a third-party dataset retrieved 2026-11-09), the
# same 1x A100 80 GB hardware, so it is a fair proxy; the T4 figure has no source found.
# Dedicated profiles (NC24-A100, NC48-A100, NC96-A100: 1, 2 and 4 A100s, billed per instance plus
# a plan management fee) are left out on purpose: no published figure was found, so `ftk ps`
# shows no cost for them rather than a guess.
GPU_PRICE_PER_SECOND: dict[str, float] = {
    "Consumption-GPU-NC24-A100": 3.672 / 3600,  # 1x A100 80 GB (estimate, see above)
    "Consumption-GPU-NC8as-T4": 0.576 / 3600,  # 1x T4 16 GB (estimate, no source found)
    "local": 0.0,  # your own machine
}


def price_per_second(profile: str | None) -> float | None:
    """Price per second for a profile; None when the profile is unknown (cost not shown)."""
    if not profile:
        return None
    return GPU_PRICE_PER_SECOND.get(profile)


def estimate_cost(profile: str | None, seconds: float | None) -> float | None:
    price = price_per_second(profile)
    if price is None or seconds is None:
        return None
    return round(price * max(seconds, 0.0), 4)
