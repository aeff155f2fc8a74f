"""The serving engines as data: one `ServingEngine` entry per server the inference app can run.

Everything that differs between engines is a field here, and every place that needs it reads the
entry instead of comparing names: the stack (`stacks/inference.py`: image, command, probes, the
key's variables; `stacks/reader.py`: the image and the default per GPU), `ftk deploy` and the
other endpoint verbs (which path says the endpoint is ready: `cli/targets/aca/app.py`), the
local target (`cli/targets/local/endpoint.py`: its server's argv and ready path) and the CLI's
serving check before training (`cli/doctor/preflight.py`). A new engine is one entry in
`ENGINES`, one server entry point (`inference/<engine>_app.py`, which reads the app's env and
starts the server), one test file, plus docs (docs/inference.md, "Which engine";
`tests/test_engines.py` checks every entry against the stack, deploy and `--local`).

What each engine can load (`adapter_problem`): the CLI warns before training (`ftk run`), `ftk
deploy` refuses before it changes the app, and the vLLM app refuses at start
(`inference.vllm_app`), from the same rule.

vLLM: `--max-lora-rank` takes only `MaxLoRARanks` (vllm-project/vllm `vllm/config/lora.py`, read
2026-12-05), and LoRA bias support was removed (vllm-project/vllm PR #25807, merged 2025-10), so
an adapter that trains biases (PEFT `bias` other than "none", or `lora_bias`) cannot be served.
The transformers engine (peft) loads any LoRA adapter training writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from contract import env
from contract.commands import SERVE_COMMANDS, VLLM_SERVE_COMMANDS, serve_argv

VLLM: Final = "vllm"
TRANSFORMERS: Final = "transformers"
VLLM_MAX_LORA_RANKS: Final = (1, 8, 16, 32, 64, 128, 256, 320, 512)
# vLLM's official OpenAI-compatible server image (vllm-project/vllm,
# docs/deployment/docker.md), pinned: a new vLLM is a deliberate change, never a surprise.
# 0.19.1: outside CVE-2026-22778's range (remote code execution through video inputs, 0.8.3 to
# before 0.14.1, fixed in 0.14.1; GitHub advisory for vllm-project/vllm, read 2026-12-05), and
# the release Azure's own model catalog moved to (Azure/azureml-assets PR #4944). Every flag
# `inference.vllm_app` passes is listed with its source in docs/inference.md ("Which engine").
VLLM_IMAGE: Final = "docker.io/vllm/vllm-openai:v0.19.1"
# Fixed releases start here; tests/stacks/test_vllm.py keeps the pin at or above it.
VLLM_FIRST_FIXED: Final = (0, 14, 1)


def vllm_lora_rank(rank: int) -> int | None:
    """The smallest `--max-lora-rank` that holds rank `rank`; None above vLLM's largest."""
    return next((allowed for allowed in VLLM_MAX_LORA_RANKS if rank <= allowed), None)


def vllm_lora_problem(rank: int, bias: str = "none", lora_bias: bool = False) -> str | None:
    """Why vLLM cannot serve a LoRA adapter of this rank and bias setting, or None if it can."""
    if vllm_lora_rank(rank) is None:
        return f"LoRA rank {rank} is above the {VLLM_MAX_LORA_RANKS[-1]} vLLM serves"
    if bias != "none" or lora_bias:
        return f"vLLM serves no LoRA bias (bias: {bias!r}{', lora_bias' if lora_bias else ''})"
    return None


def vllm_adapter_problem(adapter_config: Mapping[str, Any]) -> str | None:
    """Why vLLM cannot serve the adapter whose `adapter_config.json` (PEFT's LoraConfig) this is:
    its largest rank (`r` and any `rank_pattern` value), its bias, or DoRA (vLLM loads LoRA
    weights only); None if it can."""
    pattern = adapter_config.get("rank_pattern") or {}
    rank = max([int(adapter_config.get("r", 8)), *(int(v) for v in pattern.values())])
    problem = vllm_lora_problem(
        rank, str(adapter_config.get("bias", "none")), bool(adapter_config.get("lora_bias"))
    )
    if problem is None and adapter_config.get("use_dora"):
        return "the adapter is DoRA, which vLLM does not serve"
    return problem


def _serves_any_adapter(adapter_config: Mapping[str, Any]) -> str | None:
    return None


# What the local target runs: `argv(python, base_model=..., adapter=..., host=..., port=...,
# model_cache=..., more_adapters=...)` (contract.commands.serve_argv's signature).
LocalArgv = Callable[..., list[str]]
AdapterProblem = Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class ServingEngine:
    """One server the inference app can run, and everything the stack and the CLI need of it."""

    name: str  # the stack key `inferenceEngine`'s value and the INFERENCE_ENGINE output
    label: str  # how messages name it
    entry_point: str  # the Python module the app's command runs (`python -m <entry_point>`)
    commands: tuple[str, ...]  # the app container's bash steps (contract.commands)
    ready_path: str  # answers 200 without a key once a request can be served (readiness, wake)
    health_path: str  # answers without a key while the server lives (liveness)
    # The app's variables that carry the API key, each by secretRef to the same secret;
    # FTK_API_KEY first (`ftk endpoint` finds the secret through it).
    key_vars: tuple[str, ...]
    # Its own pinned image; None: the stack's job image (or the prebuilt image, which bakes in
    # the serve lock's dependencies), with the registry pull that goes with it.
    image: str | None = None
    default_gpus: tuple[str, ...] = ()  # GPU kinds (contract/gpus.py) it is the default on
    local_argv: LocalArgv | None = None  # how `--local` starts it; None: not on this machine
    # Why it cannot serve the LoRA adapter with this adapter_config.json, or None if it can.
    adapter_problem: AdapterProblem = _serves_any_adapter
    adapter_rule: str = "any LoRA adapter training writes"  # what it serves, for a hint


ENGINES: Final[Mapping[str, ServingEngine]] = {
    e.name: e
    for e in (
        ServingEngine(
            name=VLLM,
            label="vLLM",
            entry_point="inference.vllm_app",
            commands=VLLM_SERVE_COMMANDS,
            # vLLM listens only once the model has loaded, and its /health answers 200 while the
            # engine lives (503 once it is dead): vllm-project/vllm
            # `vllm/entrypoints/serve/instrumentator/health.py`, read 2026-12-06. It has no
            # /ready, and `inference.vllm_app.RequireKey` asks for the key everywhere else.
            ready_path="/health",
            health_path="/health",
            key_vars=(env.API_KEY, env.VLLM_API_KEY),
            image=VLLM_IMAGE,
            default_gpus=("A100",),
            adapter_problem=vllm_adapter_problem,
            adapter_rule=f"lora.r <= {VLLM_MAX_LORA_RANKS[-1]}, lora.bias: none and no DoRA",
        ),
        ServingEngine(
            name=TRANSFORMERS,
            label="transformers",
            entry_point="inference",
            commands=SERVE_COMMANDS,
            ready_path="/ready",  # inference.app: loaded, one generation served
            health_path="/health",  # inference.app: alive; 503 once the engine has failed
            key_vars=(env.API_KEY,),
            local_argv=serve_argv,
        ),
    )
}
# Where no stack names an engine (`--infra` files, an older stack, `--local`): ftk's own server.
FALLBACK: Final = TRANSFORMERS


def engine(name: str | None) -> ServingEngine:
    """The entry for `name`; the fallback engine for None or "" (no INFERENCE_ENGINE output)."""
    try:
        return ENGINES[name or FALLBACK]
    except KeyError:
        known = ", ".join(ENGINES)
        raise ValueError(f"unknown inference engine {name!r}; known: {known}") from None


def default_for(gpu: str) -> ServingEngine:
    """The engine a stack runs on this GPU kind unless `inferenceEngine` says otherwise."""
    return next((e for e in ENGINES.values() if gpu in e.default_gpus), ENGINES[FALLBACK])


def local_engine() -> ServingEngine:
    """The engine `--local` serves with: the first entry this machine can start."""
    return next(e for e in ENGINES.values() if e.local_argv is not None)
