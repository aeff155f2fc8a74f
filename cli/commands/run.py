"""`ftk run` and `ftk resume`: start an execution of the fine-tuning job for a run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.app import App, json_option, pass_app

if TYPE_CHECKING:  # loaded lazily, inside the commands
    from cli.doctor.preflight import Preflight
    from cli.ops.runs import RunStart
    from cli.targets.base import Target

MAX_COST_USD = 1_000_000  # far above any run; keeps the budget's seconds a small integer


class _Dollars(click.FloatRange):
    """A finite amount from 0 to MAX_COST_USD: `nan` passes FloatRange's comparisons, and `inf`
    or 1e308 overflowed the budget's seconds (an `unexpected error`, exit 1, not a usage error)."""

    def __init__(self) -> None:
        super().__init__(min=0, max=MAX_COST_USD)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        amount = super().convert(value, param, ctx)
        if not math.isfinite(amount):
            self.fail(f"{value!r} is not a finite amount of dollars", param, ctx)
        return amount


_follow_opt = click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Stream the logs until the execution ends; exit with its outcome.",
)
_json_opt = json_option()
_until_done_opt = click.option(
    "--until-done",
    is_flag=True,
    help="Follow (implies -f) and, whenever the execution ends resumable (time budget or "
    "SIGTERM), start the next one of the same run, until it succeeds, fails or is stopped.",
)
_max_restarts_opt = click.option(
    "--max-restarts",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    metavar="N",
    help="With --until-done: restart at most N times.",
)


@click.command(short_help="Validate a training config, sync, start a run.")
@click.argument("training_yaml", required=False, type=click.Path(path_type=Path))
@click.option("--run-id", metavar="ID", help="Name of the run (default: <config>-<UTC time>).")
@click.option("--no-sync", is_flag=True, help="Do not sync the workspace first.")
@click.option(
    "--max-cost",
    type=_Dollars(),
    metavar="USD",
    help="Spend at most this (estimated): the run checkpoints and ends resumable at it.",
)
@_follow_opt
@_until_done_opt
@_max_restarts_opt
@_json_opt
@pass_app
def run(
    app: App,
    training_yaml: Path | None,
    run_id: str | None,
    no_sync: bool,
    max_cost: float | None,
    follow: bool,
    until_done: bool,
    max_restarts: int,
    as_json: bool,
) -> None:
    """Validate TRAINING_YAML, sync, and start a fine-tuning run.

    TRAINING_YAML defaults to the only YAML file in finetuning/. The config and its dataset are
    checked on this machine first, so a mistake costs no GPU time. With -f the exit code is the
    run's outcome: 0 succeeded, 1 failed, stopped or resumable. With --until-done a resumable
    ending starts the next execution by itself (at most --max-restarts times).
    """
    from cli.commands import _ui
    from cli.ops.runs import find_config, start_run

    config = find_config(app.project_dir, training_yaml)
    target = app.target()
    checked = _preflight(target, app.project_dir, config, max_cost)
    with _ui.BytesProgress("uploading") as progress:
        started = start_run(
            target,
            app.project_dir,
            config,
            run_id=run_id,
            sync=not no_sync,
            progress=progress,
            env=checked.env or None,
        )
    _follow(target, started, follow, until_done, max_restarts, as_json)


@click.command(short_help="Continue a run from its newest checkpoint.")
@click.argument("run_id", metavar="RUN")
@_follow_opt
@_until_done_opt
@_max_restarts_opt
@_json_opt
@pass_app
def resume(
    app: App, run_id: str, follow: bool, until_done: bool, max_restarts: int, as_json: bool
) -> None:
    """Start a new execution of RUN; training continues from its newest complete checkpoint."""
    from cli.ops.runs import resume_run

    target = app.target()
    started = resume_run(target, run_id)
    _follow(target, started, follow, until_done, max_restarts, as_json)


def _follow(
    target: Target,
    started: RunStart,
    follow: bool,
    until_done: bool,
    max_restarts: int,
    as_json: bool,
) -> None:
    from cli.commands import _ui

    _report_start(started, as_json=as_json, follow=follow or until_done)
    if until_done:
        final = _ui.follow_until_done(
            target, started.execution, max_restarts=max_restarts, to_stderr=as_json
        )
        _ui.finish(final)
    elif follow:
        _ui.finish(_ui.follow_execution(target, started.execution, to_stderr=as_json))


def _preflight(
    target: Target, project_dir: Path, config: Path, max_cost: float | None
) -> Preflight:
    """`ftk doctor`'s cheap checks (model fits, cost): printed, never blocking but --max-cost."""
    from cli.commands import _ui
    from cli.doctor.preflight import preflight

    checked = preflight(target, project_dir, config, max_cost=max_cost)
    for row in checked.rows:
        _ui.warn(f"{row.name}: {row.evidence}" + (f" (fix: {row.fix})" if row.fix else ""))
    if checked.estimate:
        _ui.info(f"[dim]estimate:[/] {checked.estimate}")
    return checked


def _report_start(started: RunStart, *, as_json: bool, follow: bool) -> None:
    from cli.commands import _ui
    from cli.commands.sync import render_secret_notices, render_sync
    from cli.console import emit_json

    if started.sync is not None:
        # Secret notices go to stderr even with --json: a sent secret is never silent.
        (render_secret_notices if as_json else render_sync)(started.sync)
    for w in started.warnings:
        _ui.warn(w)
    if started.others_active:
        names = ", ".join(e.name for e in started.others_active)
        _ui.warn(f"other executions are active ({names}); this one may wait for GPU capacity")
    if as_json:
        emit_json(started.to_dict())
    else:
        _ui.out(started.execution.name)
        name = started.execution.name
        _ui.ok(f"run [bold]{started.run_id}[/] started as execution [bold]{name}[/]")
        if started.execution.portal_url:
            _ui.info(f"  portal: {started.execution.portal_url}")
        if not follow:
            _ui.info(
                f"  follow: ftk logs {started.execution.name} -f   status: ftk ps   "
                f"stop: ftk stop {started.execution.name}"
            )
