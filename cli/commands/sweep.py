"""`ftk sweep CONFIG --set KEY=VALUES ...`, `ftk sweep status SWEEP`, `ftk sweep stop SWEEP`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.app import App, json_option, pass_app
from cli.tables import wide_option

if TYPE_CHECKING:  # the ops modules load lazily, inside each command
    from cli.ops.sweep import Point, Sweep
    from cli.ops.sweep_board import Row


class _SweepGroup(click.Group):
    """`ftk sweep CONFIG ...` starts a sweep; `ftk sweep status|stop SWEEP` acts on one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_SweepGroup, short_help="Many runs over a grid or random samples of values.")
def sweep() -> None:
    """Start one ordinary run per point of a grid (or of random samples), at most --parallel at
    once, and rank them: `ftk sweep CONFIG --set KEY=V1,V2 ...` (same as `ftk sweep start`).

    \b
    --set train.learning_rate=1e-4,2e-4   a list: the grid crosses every list
    --set train.learning_rate=1e-5:1e-3   a range (with --samples N): log-uniform floats,
    --set lora.r=4:32                     uniform integers, or LOW:HIGH:lin for uniform floats
    """


@sweep.command(short_help="Start a sweep (the default: `ftk sweep CONFIG ...`).")
@click.argument("training_yaml", type=click.Path(path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUES", help="Values of one key.")
@click.option("--samples", type=click.IntRange(min=1), help="N random points instead of a grid.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --samples.")
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    help="Runs at once (default: the stack's MAXIMUM_INSTANCE_COUNT; 1 locally).",
)
@click.option("--name", metavar="SWEEP", help="Name of the sweep (default: <config>-sweep-<time>).")
@click.option("--eval", "eval_file", type=click.Path(path_type=Path), help="Score runs with it.")
@click.option("--no-sync", is_flag=True, help="Do not sync the workspace first.")
@click.option("--no-wait", is_flag=True, help="Start the first runs and return.")
@json_option()
@wide_option()
@pass_app
def start(
    app: App,
    training_yaml: Path,
    sets: tuple[str, ...],
    samples: int | None,
    seed: int,
    parallel: int | None,
    name: str | None,
    eval_file: Path | None,
    no_sync: bool,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Start the sweep and, unless --no-wait, drive it until every run has ended (Ctrl-C leaves
    the runs going: `ftk sweep status SWEEP` picks it up again)."""
    from cli.commands import _ui
    from cli.ops import sweep as ops
    from cli.ops.runs import find_config
    from cli.ops.sweep_space import points
    from cli.ops.sync import sync_workspace

    config = find_config(app.project_dir, training_yaml)
    if eval_file is not None:
        from cli.ops.evaluate import data_path

        eval_file = data_path(eval_file, app.project_dir)
    target = app.target()
    values = points(list(sets), samples=samples, seed=seed)
    parallel, capped = ops.within_gpu_quota(target, parallel)
    created, warnings = ops.create(
        target,
        app.project_dir,
        config,
        values,
        name=name,
        parallel=parallel,
        eval_file=str(eval_file) if eval_file else None,
    )
    for w in [*capped, *warnings]:
        _ui.warn(w)
    _ui.ok(f"sweep [bold]{created.name}[/]: {len(created.points)} runs, {created.parallel} at once")
    if not no_sync:
        with _ui.BytesProgress("uploading") as progress:
            sync_workspace(target, app.project_dir, progress=progress)
    if no_wait:
        for p in ops.advance(target, created, app.project_dir):
            _ui.info(f"  started {p.run_id} as {p.execution}")
        final = ops.load(target, created.name)
    else:
        final = _drive(app, created)
    _show(app, final, as_json=as_json)


@sweep.command(short_help="Leaderboard of a sweep; starts its pending runs.")
@click.argument("name", metavar="SWEEP")
@click.option("--wait", is_flag=True, help="Drive the sweep until every run has ended.")
@json_option()
@wide_option()
@pass_app
def status(app: App, name: str, wait: bool, as_json: bool) -> None:
    """Refresh SWEEP from the share, start pending runs while there is room, score finished runs
    (with the sweep's --eval file) and print the leaderboard, best first."""
    from cli.ops import sweep as ops

    target = app.target()
    current = ops.load(target, name)
    if wait:
        current = _drive(app, current)
    else:
        ops.advance(target, current, app.project_dir)
    _show(app, current, as_json=as_json)


@sweep.command(short_help="Stop a sweep and its runs.")
@click.argument("name", metavar="SWEEP")
@json_option()
@pass_app
def stop(app: App, name: str, as_json: bool) -> None:
    """No more runs of SWEEP start; its active executions are stopped (resumable runs)."""
    from cli.commands import _ui
    from cli.console import emit_json
    from cli.ops import sweep as ops

    target = app.target()
    stopped = ops.stop(target, ops.load(target, name))
    if as_json:
        emit_json({"sweep": name, "stopped": stopped})
    else:
        _ui.ok(f"sweep {name} stopped" + (f": {', '.join(stopped)}" if stopped else ""))


def _drive(app: App, current: Sweep) -> Sweep:
    import time

    from cli.commands import _ui
    from cli.errors import ExitCode, FtkError
    from cli.ops import sweep as ops

    def started(p: Point) -> None:
        _ui.info(f"  started {p.run_id} {_values(p.values)} as {p.execution}")

    try:
        return ops.drive(
            app.target(),
            current,
            app.project_dir,
            wait=lambda: time.sleep(ops_poll_seconds()),
            on_start=started,
        )
    except KeyboardInterrupt:
        raise FtkError(
            f"stopped driving sweep {current.name}; its runs keep going",
            hint=f"`ftk sweep status {current.name} --wait` continues it; "
            f"`ftk sweep stop {current.name}` stops it",
            code=ExitCode.INTERRUPTED,
        ) from None


def ops_poll_seconds() -> float:
    import os

    return float(os.environ.get("FTK_SWEEP_POLL_SECONDS", "5"))


def _show(app: App, current: Sweep, *, as_json: bool) -> None:
    from cli.commands import _ui
    from cli.console import emit_json
    from cli.ops.sweep_board import leaderboard, score_finished, score_with_ftk_eval

    target = app.target()
    if current.eval_file:
        scorer = score_with_ftk_eval(app.project_dir, target)
        for run in score_finished(target, current, Path(current.eval_file), scorer):
            _ui.info(f"  scored {run} with {Path(current.eval_file).name}")
    rows = leaderboard(target, current)
    if as_json:
        emit_json(
            {
                "sweep": current.name,
                "parallel": current.parallel,
                "stopped": current.stopped,
                "eval_file": current.eval_file,
                "runs": [r.to_dict() for r in rows],
            }
        )
        return
    _board(rows, scored=current.eval_file is not None)


def _board(rows: list[Row], *, scored: bool) -> None:
    """Best first, the best marked; each point's values under short names (`lr=5e-4 r=32`)."""
    from rich.markup import escape

    from cli import tables
    from cli.commands import _ui
    from cli.ops.sweep_board import best, short_names, value_text

    names = short_names(k for r in rows for k in r.values)
    top = best(rows)
    columns = [
        tables.Column("#", required=True, justify="right"),
        tables.Column("RUN", required=True),
        tables.Column("STATUS", required=True),
        tables.Column("VALUES", required=True, wrap="words"),
    ]
    if scored:
        columns += [
            tables.Column("SCORE", priority=1, justify="right"),
            tables.Column("FILE LOSS", priority=2, justify="right"),
        ]
    columns += [
        tables.Column("EVAL LOSS", priority=3, justify="right"),
        tables.Column("TRAIN LOSS", priority=4, justify="right"),
    ]
    table = tables.Table(columns)
    for r in rows:
        short = " ".join(f"{names[k]}={value_text(v)}" for k, v in r.values.items())
        full = _values(r.values)
        cells: list[Any] = [
            f"[bold green]★[/] {r.rank}" if r is top else str(r.rank),
            r.run_id,
            r.status,
            tables.Compact(escape(short), escape(full)),
        ]
        if scored:
            cells += ["-" if r.score is None else f"{r.score:.0%}", tables.number(r.eval_file_loss)]
        cells += [tables.number(r.eval_loss), tables.number(r.train_loss)]
        table.add_row(*cells)
    table.render(_ui.console())
    renamed = [f"{short} = {key}" for key, short in names.items() if short != key]
    if renamed and not tables.is_wide(_ui.console()):
        _ui.info(f"[dim]{escape(', '.join(renamed))}[/]")


def _values(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={json.dumps(v)}" for k, v in values.items())
