"""QLoRA supervised fine-tuning with TRL's SFTTrainer: `main(config)` runs one execution of a run.

Shaped like trl's `scripts/sft.py`: model and tokenizer, dataset, trainer, then
`train(resume_from_checkpoint=<newest complete checkpoint>)` and save. An execution ends as
`succeeded` (exit 0), `resumable` (exit 75: deadline or SIGTERM, checkpoint saved), or `failed`
(exit 1; an error the user can fix is raised as `UserError`, which `training.cli.run` turns into
exit 2).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contract.exit_codes import ExitCode
from contract.phases import Phase, phase_line
from training import model_setup, preference_trainer, sft_dataset, sft_trainer, tracking
from training.distributed import world
from training.rundir import RunDir, write_atomic
from training.spec import dataset, methods, paths
from training.spec.config import TrainingConfig, to_dict
from training.spec.errors import UserError
from training.spec.validate import validate_config

log = logging.getLogger("training")


class Interrupted(Exception):
    """SIGTERM arrived before the training loop started; nothing to checkpoint yet."""


@dataclass
class Outcome:
    status: str  # "succeeded" | "resumable"
    summary: dict[str, Any]


def main(
    config: TrainingConfig,
    workspace: Path | str | None = None,
    deadline: float | None = None,
    started_at: float | None = None,
    *,
    run_dir: Path | None = None,
) -> int:
    """Train (or resume) the run `config` describes; returns the process exit code.

    `run_dir` is the run's folder, decided by the caller (`training.cli`: the one ftk started the
    run in, else `output.dir`...); None: `paths.run_dir` (the config's `output.dir`, else its
    file's folder).

    Raises `UserError` (bad config, data, model or device: the user's to fix) after marking the
    run `failed`; `training.cli.run` maps it to exit 2.

    `deadline` is a time budget in seconds counted from `started_at` (default: now, as
    `time.monotonic()`); the run stops with a checkpoint before the budget runs out.
    """
    from training.callbacks import StopCallback

    started_at = time.monotonic() if started_at is None else started_at
    root = paths.workspace_root(workspace)
    # A ConfigError here (output.dir leaves the workspace) propagates before anything is written.
    run = RunDir(run_dir or paths.run_dir(config, root), writer=world().main)
    run.root.mkdir(parents=True, exist_ok=True)
    stopper = StopCallback(None if deadline is None else started_at + deadline)
    restore = _on_sigterm(stopper)
    run.set_status("running")
    try:
        if run.writer:
            _save_config(config, run)
        outcome = _train(config, root, run, stopper, started_at)
    except Interrupted:
        log.warning("SIGTERM before training started: nothing to save, run is resumable")
        run.set_status("resumable")
        return ExitCode.RESUMABLE
    except UserError:
        run.set_status("failed")
        raise
    except Exception:
        log.exception("training failed")
        run.set_status("failed")
        return ExitCode.FAILED
    finally:
        restore()
    run.set_status(outcome.status)
    log.info("run %s: %s", outcome.status, run.root)
    return ExitCode.OK if outcome.status == "succeeded" else ExitCode.RESUMABLE


def _on_sigterm(stopper) -> Callable[[], None]:
    """SIGTERM: stop at the next step with a checkpoint, or abort at once if not training yet."""

    def handler(signum, frame):
        if stopper.training:
            log.warning("SIGTERM: stopping after this step with a checkpoint")
            stopper.request_stop("SIGTERM")
        else:
            raise Interrupted()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: the caller handles signals
        return lambda: None

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def _save_config(config: TrainingConfig, run: RunDir) -> None:
    """Keep the run's config beside its outputs (unless it already lives there)."""
    target = run.root / "config.yaml"
    if config.source is not None and target.exists() and target.samefile(config.source):
        return
    write_atomic(target, yaml.safe_dump(to_dict(config), sort_keys=False))


def _train(
    config: TrainingConfig, workspace: Path, run: RunDir, stopper, started_at: float
) -> Outcome:
    import torch

    from training import hardware, report

    report_ = validate_config(config, workspace)
    for line in report_.warning_lines():
        log.warning("%s", line)
    if not report_.ok:
        raise dataset.DataError("\n".join(str(i) for i in report_.errors))
    hw = hardware.detect()
    precision = hardware.resolve_precision(config.train, hw)
    hardware.check_attention(config.model.attn_implementation, hw, precision)
    if config.train.num_threads:
        if config.train.num_threads > (os.cpu_count() or 1):
            log.warning(
                "train.num_threads=%d is more than the %d CPUs here: threads will compete",
                config.train.num_threads,
                os.cpu_count() or 1,
            )
        torch.set_num_threads(config.train.num_threads)
    log.info("device %s (%s), precision %s", hw.device, hw.name, precision)
    from transformers import set_seed

    set_seed(config.train.seed)  # the same LoRA init in every process, and from run to run

    tracker = tracking.Tracker(config, run)
    tracker.check()  # a backend that cannot log fails before the model loads

    # ---- model and tokenizer ----
    model_ref = paths.classify_model(config.model.name, workspace)
    print(phase_line(Phase.LOADING_MODEL, config.model.name), file=sys.stderr, flush=True)
    # DPO wraps the adapter itself: its reference is the base with the adapter disabled.
    wrap = config.train.method != methods.DPO
    model, tokenizer = model_setup.load_model(config, model_ref, workspace, hw, precision, wrap)

    # ---- dataset and trainer ----
    if methods.is_preference(config):
        train_ds, eval_ds = preference_trainer.datasets(config, workspace, tokenizer)
        trainer = preference_trainer.build_trainer(
            config, run, model, tokenizer, train_ds, eval_ds, hw, precision
        )
    else:
        train_ds, eval_ds, loss_args = sft_dataset.datasets(config, workspace, tokenizer)
        trainer = sft_trainer.build_trainer(
            config, run, model, tokenizer, train_ds, eval_ds, loss_args, hw, precision
        )
    trainer.add_callback(stopper)
    removed = run.remove_partial_checkpoints()
    for path in removed:
        log.warning("removed incomplete checkpoint %s", path.name)
    resume = run.latest_checkpoint()
    if resume is not None:
        if run.writer:
            report.truncate_metrics(run.metrics, int(resume.name.split("-")[1]))
        log.info("resuming from %s", resume.name)
    elif run.writer and run.metrics.exists():
        run.metrics.unlink()
    train_start = time.monotonic()
    tokens_before = sft_trainer.tokens_seen(resume)
    tracker.start()
    try:
        result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    except BaseException:
        tracker.finish("failed")
        raise
    train_time = time.monotonic() - train_start
    state = trainer.state
    finished = state.global_step >= state.max_steps
    if finished:
        if eval_ds is not None and sft_trainer.last_eval_step(trainer) != state.global_step:
            trainer.evaluate()  # every process: evaluation is a collective step
        if run.writer:
            sft_trainer.save_adapter(trainer, run, model_ref)
    if not run.writer:
        return Outcome("succeeded" if finished else "resumable", {})
    metrics = report.read_metrics(run.metrics)
    report.plot_loss(metrics, run.loss_plot, title=f"{config.model.name}: {run.root.name}")
    tokens = int(state.num_input_tokens_seen or 0)
    # ORPO's batches carry no input_ids: the Trainer counts no tokens, so there is no rate.
    rate = (tokens - tokens_before) / train_time if train_time and tokens else None
    summary = {
        "status": "succeeded" if finished else "resumable",
        "stop_reason": None if finished else stopper.reason,
        "model": config.model.name,
        "method": config.train.method,
        "steps": state.global_step,
        "max_steps": state.max_steps,
        "epochs": round(state.epoch or 0.0, 4),
        "tokens": tokens,
        "train_examples": len(train_ds),
        "eval_examples": len(eval_ds) if eval_ds is not None else 0,
        "resumed_from": resume.name if resume else None,
        "execution_seconds": round(time.monotonic() - started_at, 2),
        "train_seconds": round(train_time, 2),
        "tokens_per_second": round(rate, 2) if rate is not None else None,
        "train_loss": report.last_value(metrics, "loss"),
        "eval_loss": report.last_value(metrics, "eval_loss"),
        # DPO/ORPO: the share of pairs in the last logged batch whose implicit reward ranks chosen
        # above rejected, and the mean gap (TRL's rewards/accuracies and rewards/margins).
        "reward_accuracy": report.last_value(metrics, "reward_accuracy"),
        "eval_reward_accuracy": report.last_value(metrics, "eval_reward_accuracy"),
        "reward_margin": report.last_value(metrics, "reward_margin"),
        "mean_train_loss": result.training_loss,
        "peak_memory_bytes": hardware.peak_memory_bytes(hw),
        "device": hw.device,
        "gpu": hw.name if hw.cuda else None,
        "precision": precision,
        "quantization": config.quantization.mode,
        "trainable_parameters": trainer.model.get_nb_trainable_parameters()[0],
        "versions": report.versions(),
    }
    report.write_summary(run.summary, summary)
    tracker.finish(summary["status"])
    return Outcome(summary["status"], summary)
