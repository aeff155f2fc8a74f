"""What `ftk run` checks before it starts: the cheap, local part of the doctor (no ARM calls).

The model-fits estimate and the cost of the run at its time budget, and `--max-cost`: a budget in
dollars turned into the execution's time budget (`FTK_TIME_BUDGET_SECONDS`), after which training
saves a checkpoint and ends `resumable`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cli.doctor.report import Row, Status, warn
from cli.doctor.run_checks import RunFacts, cost, model_fits
from cli.errors import UsageError
from cli.targets.base import Target
from contract import env as ftk_env
from contract import outputs as keys

if TYPE_CHECKING:  # training.spec.config loads inside preflight(): `ftk --help` stays fast
    from cli.targets.base import Target
    from training.spec.config import TrainingConfig

# Loading the model, a few steps and one checkpoint take minutes; the stack keeps the same
# 10-minute margin between its time budget and the replica timeout (contract/env.py).
MIN_BUDGET_SECONDS = ftk_env.SAVE_MARGIN_SECONDS  # what one checkpoint needs at the least


job_time_budget = ftk_env.time_budget_seconds


@dataclass
class Preflight:
    rows: list[Row] = field(default_factory=list)  # the rows that are not ✓
    estimate: str | None = None  # "about $X/h; at most $Y within the 3 h budget"
    env: dict[str, str] = field(default_factory=dict)  # for the execution


def _facts(target: Target) -> RunFacts:
    described = target.describe()
    timeout = described.get(keys.JOB_TIMEOUT_SECONDS)
    profile = described.get(keys.GPU_PROFILE)
    seconds = int(timeout) if timeout and str(timeout).isdigit() else None
    return RunFacts(profile, seconds, None, target.pricing())


def preflight(
    target: Target, workspace: Path, config_file: Path, *, max_cost: float | None = None
) -> Preflight:
    """Model fits and cost for `config_file` on `target`; `max_cost` caps the time budget."""
    from training.spec.config import ConfigError, load_config

    try:
        config = load_config(config_file)
    except ConfigError:
        return Preflight()  # `ftk run`'s own validation reports it
    facts = _facts(target)
    result = Preflight()
    fits, figures = model_fits(config, workspace, facts)
    if fits.status is not Status.OK and figures is not None:  # not "size unknown": too noisy
        result.rows.append(fits)
    serving = serving_check(config, target.describe().get(keys.INFERENCE_ENGINE))
    if serving is not None:
        result.rows.append(serving)
    price = facts.pricing.per_second
    if max_cost is not None:
        if not price:
            raise UsageError(
                f"--max-cost needs a GPU profile with a known price ({facts.gpu_profile} has none)",
                hint="leave --max-cost out to use the job's own time budget (`ftk doctor "
                "--config FILE` shows the price ftk knows)",
            )
        seconds = int(max_cost / price)
        if seconds < MIN_BUDGET_SECONDS:
            raise UsageError(
                f"--max-cost {max_cost:g} buys {seconds / 60:.0f} min of {facts.gpu_profile} "
                f"(about ${price * 3600:.2f}/h): too little to load the model, train and save "
                f"one checkpoint (at least {MIN_BUDGET_SECONDS // 60} min)",
                hint=f"raise --max-cost to at least {price * MIN_BUDGET_SECONDS:.2f}",
            )
        if facts.timeout:
            seconds = min(seconds, job_time_budget(facts.timeout))
        result.env[ftk_env.TIME_BUDGET] = str(seconds)
        facts = RunFacts(facts.gpu_profile, seconds, None, facts.pricing)
    if price:  # nothing to say about a free (local) run
        priced, _ = cost(facts)
        result.estimate = priced.evidence
        if max_cost is not None:
            minutes = f"{seconds / 60:.0f} min"
            result.estimate += f"; with --max-cost it checkpoints and ends resumable at {minutes}"
    return result


def serving_check(config: TrainingConfig, engine: str | None) -> Row | None:
    """A warning when the stack's inference engine cannot serve this config's adapter
    (`ServingEngine.adapter_problem`); None when it can, or when the engine is unknown (no app,
    --local)."""
    from contract.engines import ENGINES, FALLBACK

    serving = ENGINES.get(engine or "")
    if serving is None:
        return None
    problem = serving.adapter_problem({"r": config.lora.r, "bias": config.lora.bias})
    if problem is None:
        return None
    return warn(
        "serving",
        f"the stack's app runs {serving.label}, and {problem}: `ftk deploy` of this run would "
        "not start",
        f"{serving.adapter_rule}, or set the stack's inferenceEngine to {FALLBACK}",
    )
