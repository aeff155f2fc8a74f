"""Cost estimates bill a serverless GPU replica's GPU, vCPUs and memory, per second."""

from __future__ import annotations

import pytest

from cli.targets.aca import pricing

A100 = "Consumption-GPU-NC24-A100"
T4 = "Consumption-GPU-NC8as-T4"


@pytest.mark.parametrize(("profile", "vcpu", "gib"), [(A100, 24, 220), (T4, 8, 56)])
def test_an_hour_bills_the_gpu_and_the_replicas_vcpu_and_memory(profile, vcpu, gib) -> None:
    # billing.md: vCPU-seconds and GiB-seconds at the active rate, besides GPU-seconds.
    expected = 3600 * (
        pricing.GPU_PRICE_PER_SECOND[profile]
        + vcpu * pricing.VCPU_PRICE_PER_SECOND
        + gib * pricing.GIB_PRICE_PER_SECOND
    )
    assert pricing.estimate_cost(profile, 3600) == pytest.approx(expected, abs=1e-4)


def test_an_a100_hour_costs_more_than_its_gpu_meter_alone() -> None:
    gpu_only = pricing.GPU_PRICE_PER_SECOND[A100] * 3600
    # 24 vCPU and 220 GiB add about $4.45 an hour at the dated rates.
    assert pricing.estimate_cost(A100, 3600) == pytest.approx(gpu_only + 4.4496, abs=1e-3)


def test_profiles_without_a_published_price_show_no_cost() -> None:
    for profile in ("NC24-A100", "NC48-A100", "NC96-A100", "Custom-GPU", None):
        assert pricing.estimate_cost(profile, 3600) is None


def test_local_runs_are_free_and_unknown_durations_have_no_cost(tmp_path) -> None:
    from cli.targets.local import LocalTarget

    local = LocalTarget(tmp_path).pricing()
    assert local.cost(3600) == 0.0 and local.as_of is None  # no price list to cite
    assert pricing.estimate_cost(A100, None) is None


def test_the_rates_are_dated_and_name_their_source() -> None:
    assert pricing.PRICES_AS_OF.isoformat() == "2026-12-01"
    assert "container-apps" in pricing.SOURCE
