"""Command line of the training job (argparse, no torch until training starts).

```
python -m training --config runs/<run>/config.yaml [--workspace DIR] [--run-dir DIR]
                   [--deadline SECONDS]
python -m training validate --config FILE [--workspace DIR] [--json] [--all-warnings]
python -m training claim --workspace DIR [--execution NAME]   (the Azure job: training.claim)
```
Exit codes (`contract.exit_codes.ExitCode`): 0 succeeded, 1 failed, 2 config/data error (every
`training.spec.errors.UserError`, mapped here once), 75 resumable (deadline or SIGTERM).

The run's folder is decided here, once, and handed to the trainer: the folder of a run ftk
started (`--run-dir`: what the local target passes; the one `claim` took), else the config's
`output.dir`, else the config file's folder.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from pathlib import Path

from contract import env as ftk_env
from contract.exit_codes import ExitCode
from training import clock, distributed
from training.spec import paths, runlock
from training.spec.config import ConfigError, load_config
from training.spec.errors import UserError
from training.spec.validate import validate_config_file

log = logging.getLogger("training")


def _parser(validate: bool) -> argparse.ArgumentParser:
    prog = "python -m training" + (" validate" if validate else "")
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Check a training config and its data."
        if validate
        else "Fine-tune with QLoRA (resumes from the newest complete checkpoint).",
    )
    parser.add_argument("--config", required=True, type=Path, help="training config YAML")
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="root for relative paths (default: $FTK_WORKSPACE, else the current directory)",
    )
    if validate:
        parser.add_argument(
            "--json", action="store_true", help="print the report as JSON (every warning)"
        )
        parser.add_argument(
            "--all-warnings",
            action="store_true",
            help="print every warning (repeated ones are summarised otherwise)",
        )
    else:
        parser.add_argument(
            "--run-dir",
            type=Path,
            default=None,
            help="the run's folder, where ftk reads it (the config's output.dir is then ignored; "
            "default: output.dir, else the config file's folder)",
        )
        parser.add_argument(
            "--deadline",
            type=float,
            default=None,
            help="time budget in seconds from the container's start (else process start; default: "
            "$FTK_TIME_BUDGET_SECONDS)",
        )
    return parser


def run(argv: list[str], started_at: float | None = None) -> int:
    """Dispatch `validate`, `claim` or training; returns the exit code. The one place a user's
    error (`UserError`: config, data, model, device) becomes exit 2, as one line on stderr."""
    try:
        if argv[:1] == ["claim"]:
            from training.claim import take

            taken = take(argv[1:])
            if isinstance(taken, int):
                return taken
            return train(
                taken.config, taken.workspace, run_dir=taken.run_dir, started_at=started_at
            )
        if argv[:1] == ["validate"]:
            return _validate(_parser(validate=True).parse_args(argv[1:]))
        args = _parser(validate=False).parse_args(argv)
        return train(
            args.config,
            paths.workspace_root(args.workspace),
            run_dir=args.run_dir,
            deadline=args.deadline,
            started_at=started_at,
        )
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return ExitCode.USAGE


def _validate(args: argparse.Namespace) -> int:
    report = validate_config_file(args.config, paths.workspace_root(args.workspace))
    if args.json:
        print(report.to_json())
    else:
        for issue in report.errors:
            print(f"error: {issue}", file=sys.stderr)
        for line in report.warning_lines(all_warnings=args.all_warnings):
            print(f"warning: {line}", file=sys.stderr)
        if report.ok:
            stats = report.stats
            print(
                f"ok: {stats.get('format')} data, {stats.get('train_examples', 0)} train / "
                f"{stats.get('eval_examples', 0)} eval examples"
            )
    return ExitCode.OK if report.ok else ExitCode.USAGE


def train(
    config_file: Path,
    workspace: Path,
    *,
    run_dir: Path | None = None,
    deadline: float | None = None,
    started_at: float | None = None,
) -> int:
    """Train (or resume) the run `config_file` describes, holding the run's lock; the exit code.

    `run_dir`: the folder of a run ftk started (`runs/<run id>/`, where `ftk ps`, `download` and
    `deploy` read it; the config's `output.dir` is then ignored, with a warning); None: the
    config's `output.dir`, else the config file's folder. `deadline`: seconds from `started_at`
    (default: `$FTK_TIME_BUDGET_SECONDS`)."""
    _setup_logging()
    if deadline is None and os.environ.get(ftk_env.TIME_BUDGET):
        try:
            deadline = float(os.environ[ftk_env.TIME_BUDGET])
        except ValueError:
            raise UserError(f"{ftk_env.TIME_BUDGET} must be a number of seconds") from None
    try:
        config = load_config(config_file)
    except ConfigError as exc:
        raise UserError(f"{config_file}: {exc}") from None
    started_at = started_at if started_at is not None else clock.started_at()
    worker = distributed.world().distributed  # a torchrun worker: its launcher holds the lock
    if run_dir is None:
        try:
            run_dir = paths.run_dir(config, workspace)
        except ConfigError as exc:  # output.dir leaves the workspace: write nothing anywhere
            raise UserError(f"{config_file}: {exc}") from None
    elif config.output.dir and not worker:
        log.warning(
            "output.dir %r is ignored: ftk keeps this run in %s", config.output.dir, run_dir
        )
    if worker:
        from training.train import main

        code = main(
            config, workspace=workspace, run_dir=run_dir, deadline=deadline, started_at=started_at
        )
        # torchrun tears every worker down when one exits non-zero, which could cut rank 0 off
        # while it saves; the launcher reads "resumable" from the status file instead.
        return ExitCode.OK if code == ExitCode.RESUMABLE else code
    try:
        with runlock.hold(run_dir):  # one live trainer per run
            processes = distributed.processes_wanted()
            if processes > 1:
                return _launch(processes, config_file, workspace, run_dir, deadline, started_at)
            from training.train import main

            return main(
                config,
                workspace=workspace,
                run_dir=run_dir,
                deadline=deadline,
                started_at=started_at,
            )
    except runlock.RunBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.FAILED


def _launch(
    processes: int,
    config: Path,
    workspace: Path,
    run_dir: Path,
    deadline: float | None,
    started_at: float,
) -> int:
    """Data parallel: torchrun runs `processes` workers on the same config, with what is left of
    the time budget."""
    from training.rundir import RunDir

    RunDir(run_dir).set_status("running")  # no stale word decides this execution's exit code
    argv = ["--config", str(config), "--workspace", str(workspace), "--run-dir", str(run_dir)]
    if deadline is not None:
        argv += ["--deadline", str(max(deadline - (time.monotonic() - started_at), 0.0))]
    return distributed.launch(processes, argv, RunDir(run_dir).status_file)


def _setup_logging() -> None:
    logging.basicConfig(
        # Data parallel: rank 0 speaks for all; the others only warn.
        level=logging.INFO if distributed.world().main else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stdout,
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", category=FutureWarning)
    for noisy in ("transformers", "datasets", "trl", "peft", "accelerate", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # bitsandbytes warns at import about optional CPU kernels it does not need.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
