"""`ftk deploy` and `ftk endpoint`: which run and base model the inference app serves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cli.errors import NotFoundError, UsageError
from cli.ops.runs import check_run_id
from cli.runs_on_share import adapter_config, has_adapter, run_status
from cli.runs_on_share import base_model as base_model_of
from cli.targets.base import Endpoint, ExecutionStatus, Share, Target
from contract import outputs as keys
from contract.engines import FALLBACK, engine


def newest_run_with_adapter(target: Target, share: Share) -> str | None:
    seen: set[str] = set()
    for e in target.executions():  # newest first
        if e.status == ExecutionStatus.SUCCEEDED and e.run_id and e.run_id not in seen:
            seen.add(e.run_id)
            if has_adapter(share, e.run_id):
                return e.run_id
    return None


def resolve_deploy(
    target: Target, run_id: str | None, *, base_only: bool, base: str | None
) -> tuple[str | None, str]:
    """(run to serve or None for the base alone, base model)."""
    share = target.share()
    if run_id:
        check_run_id(run_id)
    else:
        run_id = newest_run_with_adapter(target, share)
        if run_id is None and not (base_only and base):
            raise NotFoundError(
                "no succeeded run with an adapter to deploy",
                hint="name one: `ftk deploy RUN`, or serve a base model: --base-only --base MODEL",
            )
    model = base
    if run_id:
        found = base_model_of(share, run_id)
        if found is None and not base_only:
            status = run_status(share, run_id) or "unknown"
            raise NotFoundError(
                f"run {run_id} has no adapter to deploy (status: {status})",
                hint="see `ftk ps`; an unfinished run continues with `ftk resume RUN`",
            )
        model = model or found
    if not model:
        raise UsageError("cannot tell which base model to serve", hint="pass --base MODEL")
    return (None if base_only else run_id), model


def deploy(
    target: Target,
    run_id: str | None,
    *,
    base_only: bool = False,
    base: str | None = None,
    more_runs: Sequence[str] = (),
    add: Sequence[str] = (),
) -> Endpoint:
    """Serve `run_id` (and `more_runs` beside it, each its own model name), or with `add`,
    the runs the endpoint serves now plus those."""
    if add:
        if run_id or more_runs or base_only:
            raise UsageError("--add keeps what is deployed; name runs either way, not both")
        try:
            current = list(target.endpoint().adapters)
        except NotFoundError:
            current = []
        runs = list(dict.fromkeys([*current, *add]))
        run_id, more_runs = runs[0], runs[1:]
    runs = [r for r in dict.fromkeys([run_id, *more_runs]) if r]
    if base_only and more_runs:
        raise UsageError("--base-only serves no adapter; drop the run ids")
    serve_run, base_model = resolve_deploy(target, run_id, base_only=base_only, base=base)
    others = runs[1:]
    if serve_run:
        check_servable(target, [serve_run, *others])
    if others:
        share = target.share()
        for other in others:
            check_run_id(other)
            found = base_model_of(share, other)
            if found is None:
                status = run_status(share, other) or "unknown"
                raise NotFoundError(
                    f"run {other} has no adapter to deploy (status: {status})",
                    hint="see `ftk ps`; an unfinished run continues with `ftk resume RUN`",
                )
            if not base and found != base_model:
                raise UsageError(
                    f"run {other} was trained on {found}, not {base_model}: one endpoint serves "
                    "adapters of one base model",
                    hint="deploy it to its own app, or pass --base MODEL if they share weights",
                )
        return target.deploy(serve_run, base_model=base_model, more_runs=others)
    return target.deploy(serve_run, base_model=base_model)


def check_servable(target: Target, runs: Sequence[str]) -> None:
    """Refuse, before the app is touched, a run whose adapter the app's engine cannot serve
    (`ServingEngine.adapter_problem`, the rule the vLLM app itself applies at start): a new
    revision that cannot start would only fail after the wait, on a GPU."""
    try:
        serving = engine(target.describe().get(keys.INFERENCE_ENGINE))
    except ValueError:
        return  # an engine this ftk does not know: its server says what it refuses
    share = target.share()
    for run in runs:
        problem = serving.adapter_problem(adapter_config(share, run) or {})
        if problem:
            raise UsageError(
                f"run {run}: the app runs {serving.label}, and {problem}",
                hint=f"serve adapters with {serving.adapter_rule}, or set the stack's "
                f"inferenceEngine to {FALLBACK} and `pulumi up`",
            )


def endpoint_dict(endpoint: Endpoint, *, show_key: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "url": endpoint.url,
        "openai_base_url": endpoint.url.rstrip("/") + "/v1",
        "ready": endpoint.ready,
        "model": endpoint.model,
        "models": list(endpoint.adapters),  # each run served, by the name `ftk chat --model` takes
    }
    if show_key:
        out["api_key"] = endpoint.api_key
    return out
