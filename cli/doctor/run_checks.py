"""The run-config checks: the model fits the GPU, a gated model has HF_TOKEN, what the run costs.

Pure Python (the training package's config and memory estimate import no torch), so `ftk run`
can use the cheap ones before it starts anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.doctor.report import Row, fail, ok, warn
from cli.targets.base import Pricing

if TYPE_CHECKING:  # training.spec.config loads inside the checks: `ftk --help` stays fast
    from training.spec.config import TrainingConfig

GIB = 1024**3
# Memory a program can use per GPU. The profiles are named after the VM sizes they run on (NC24ads
# A100 v4: one A100 PCIe 80 GB; NC8as T4 v3: one T4 16 GB; MicrosoftDocs/azure-docs
# articles/virtual-machines/sizes for the NC A100 v4 and NCasT4_v3 series). A T4's memory is GDDR6
# and its boards ship with ECC on (NVIDIA T4 product brief), which takes 6.25% of GDDR memory
# (NVIDIA CUDA C++ Best Practices Guide, "Device Memory Spaces"): 15 GiB, the 15360 MiB
# `nvidia-smi` reports. The A100's HBM2e keeps its 80 GiB with ECC. Read 2026-12-05; unverified
# on ACA itself: no GPU run yet.
GPU_MEMORY_MIB = {"A100": 80 * 1024, "T4": 15360}
TIGHT = 0.9  # above this share of the device's memory a run may still fail (fragmentation)
HF_TOKEN = "HF_TOKEN"


@dataclass(frozen=True)
class RunFacts:
    """Where the run would go: a GPU profile (None: this machine's CPU) and its time budget."""

    gpu_profile: str | None
    timeout: int | None  # the job's replica timeout in seconds (None: unknown)
    secrets: tuple[str, ...] | None  # job secret names (None: unknown)
    pricing: Pricing = field(default_factory=Pricing)  # the target's, for `gpu_profile`


def _device(profile: str | None) -> tuple[str | None, int, str]:
    """(gpu name or None, memory in bytes, description) of where the run trains."""
    if profile and profile != "local":
        from contract.gpus import GPU_PROFILES

        known = GPU_PROFILES.get(profile)
        if known is not None:
            memory = GPU_MEMORY_MIB[known.gpu] * 1024**2
            return known.gpu, memory, f"1 {known.gpu} ({memory / GIB:g} GiB)"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return None, memory, f"this machine's CPU ({memory / GIB:.0f} GiB RAM)"


def model_fits(
    config: TrainingConfig, workspace: Path, facts: RunFacts
) -> tuple[Row, dict[str, Any] | None]:
    """The memory estimate (training.spec.memory) against the profile's GPU memory."""
    from training.spec import paths
    from training.spec.catalog import find
    from training.spec.memory import estimate, find_shape

    name = "model fits"
    model = config.model.name
    folders = [paths.in_workspace(model, workspace)]
    entry = find(model)
    cache = paths.model_cache(workspace)
    folders += [paths.cache_folder(cache, entry.hf_id if entry else model)]
    shape = find_shape(model, folders)
    gpu, memory, device = _device(facts.gpu_profile)
    if shape is None:
        return warn(
            name,
            f"size of {model} unknown (no config.json here, not in ftk's catalog); not checked",
            "download it into the model cache, or check its size by hand",
        ), None
    est = estimate(config, shape, gpu=gpu)
    t = config.train
    if t.method == "sft":
        batch = f"batch {t.batch_size} x {t.max_length} tokens"
    else:  # chosen and rejected run together: twice the sequences (and DPO's reference pass)
        batch = (
            f"{t.method}: batch {t.batch_size} pairs = {2 * t.batch_size} x {t.max_length} tokens"
        )
    evidence = (
        f"{model} ({shape.params / 1e9:.2f} B params, {config.quantization.mode}"
        f" quantization, {est.precision}, {batch}): about {est.describe()} of {device}"
    )
    figures = {"memory": est.to_dict(), "device_memory": memory, "gpu": gpu}
    if est.total <= TIGHT * memory:
        return ok(name, evidence), figures
    ways = ["lower train.batch_size or train.max_length"]
    if not t.gradient_checkpointing:
        ways.append("set train.gradient_checkpointing: true")
    if gpu and config.quantization.mode != "4bit":
        ways.append("use quantization.mode: 4bit")
    if gpu == "T4":
        ways.append("use an A100 profile (Consumption-GPU-NC24-A100)")
    fix = ", ".join(ways[:-1]) + f" or {ways[-1]}" if len(ways) > 1 else ways[0]
    if est.total <= memory:
        return warn(name, evidence + " (tight)", fix), figures
    return fail(name, evidence, fix), figures


def gated_token(config: TrainingConfig, facts: RunFacts) -> Row:
    """A gated Hugging Face model needs HF_TOKEN as a job secret."""
    from training.spec.catalog import find

    name = "model access"
    entry = find(config.model.name)
    if entry is None or not entry.gated:
        return ok(name, f"{config.model.name} is not gated (as far as ftk's catalog knows)")
    if facts.secrets is None:
        return warn(
            name,
            f"{entry.id} is gated on Hugging Face; could not list the job's secrets",
            f"make sure `ftk secret list` shows {HF_TOKEN}",
        )
    if HF_TOKEN in facts.secrets:
        return ok(name, f"{entry.id} is gated; {HF_TOKEN} is set as a job secret")
    return fail(
        name,
        f"{entry.id} is gated on Hugging Face and {HF_TOKEN} is not a job secret",
        f"accept the license on huggingface.co, then `ftk secret set {HF_TOKEN}`",
    )


def _duration(seconds: int) -> str:
    hours = seconds / 3600
    if hours >= 1:
        return f"{hours:g} h" if hours == round(hours, 1) else f"{hours:.1f} h"
    return f"{seconds / 60:.0f} min"


def cost(facts: RunFacts) -> tuple[Row, dict[str, Any] | None]:
    """Estimated cost per hour and at most within the time budget (the target's `Pricing`)."""
    name = "cost estimate"
    pricing = facts.pricing
    price = pricing.per_second
    if price is None:
        where = f" in ftk's table (as of {pricing.as_of})" if pricing.as_of else ""
        return warn(
            name,
            f"no price known for {facts.gpu_profile}{where}",
            f"see {pricing.url}" if pricing.url else None,
        ), None
    hourly = price * 3600
    figures: dict[str, Any] = {"per_hour": round(hourly, 3), "currency": pricing.currency}
    evidence = f"about ${hourly:.2f}/h"
    if facts.timeout:
        most = pricing.cost(facts.timeout) or 0.0
        figures.update(at_most=round(most, 2), budget_seconds=facts.timeout)
        evidence += f"; at most ${most:.2f} within the {_duration(facts.timeout)} budget"
    return ok(name, f"{evidence} ({facts.gpu_profile}, {pricing.basis})"), figures


def run_checks(
    config_file: Path, workspace: Path, facts: RunFacts
) -> tuple[list[Row], dict[str, Any]]:
    """All run-config rows, and the figures behind them (for --json and `ftk run`)."""
    from training.spec.config import ConfigError, load_config

    try:
        config = load_config(config_file)
    except ConfigError as exc:
        return [fail("run config", f"{config_file.name}: {exc}", "fix the config")], {}
    fits, memory = model_fits(config, workspace, facts)
    priced, money = cost(facts)
    rows = [fits, gated_token(config, facts), priced]
    return rows, {"config": str(config_file), "memory": memory, "cost": money}
