"""Trainer callbacks: metrics.jsonl and log lines, `.complete` markers, deadline and SIGTERM."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

from contract.phases import Phase, phase_line
from training.distributed import agree
from training.rundir import RunDir

log = logging.getLogger("training")
# TRL's preference metrics (DPOTrainer and ORPOTrainer log the same names) -> metrics.jsonl keys.
PREFERENCE_METRICS = {
    "rewards/accuracies": "reward_accuracy",
    "rewards/margins": "reward_margin",
    "eval_rewards/accuracies": "eval_reward_accuracy",
    "eval_rewards/margins": "eval_reward_margin",
}


class MetricsCallback(TrainerCallback):
    """Appends one JSON object per log/eval step to metrics.jsonl and prints a short line."""

    def __init__(self, path: Path):
        self.path = path
        self._last_time: float | None = None
        self._last_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._last_time = time.monotonic()
        self._last_tokens = state.num_input_tokens_seen or 0

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if not state.is_world_process_zero:  # data parallel: rank 0 logs the gathered loss
            return
        if "train_loss" in logs:  # the end-of-training summary, written to summary.json
            return
        row: dict[str, float | int | None] = {"step": state.global_step}
        if state.epoch is not None:
            row["epoch"] = round(state.epoch, 4)
        if "loss" in logs:
            now, tokens = time.monotonic(), state.num_input_tokens_seen or 0
            elapsed = now - (self._last_time or now)
            row["loss"] = logs["loss"]
            row["lr"] = logs.get("learning_rate")
            row["grad_norm"] = logs.get("grad_norm")
            row["tokens"] = tokens
            row["tokens_per_s"] = (
                # ORPO counts no tokens (no input_ids): no rate rather than 0 tokens/s
                round((tokens - self._last_tokens) / elapsed, 2) if elapsed and tokens else None
            )
            self._last_time, self._last_tokens = now, tokens
        if "eval_loss" in logs:
            row["eval_loss"] = logs["eval_loss"]
        for key, name in PREFERENCE_METRICS.items():  # DPO / ORPO (TRL's names)
            if key in logs:
                row[name] = logs[key]
        if len(row) <= 2:
            return
        row["time"] = round(time.time(), 3)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
        log.info(_line(row, state.max_steps))


def _line(row: dict, max_steps: int) -> str:
    parts = [f"step {row['step']}/{max_steps}"]
    for key, fmt in (
        ("loss", ".4f"),
        ("eval_loss", ".4f"),
        ("reward_accuracy", ".2f"),
        ("lr", ".2e"),
        ("tokens_per_s", ".0f"),
    ):
        if row.get(key) is not None:
            parts.append(f"{key} {row[key]:{fmt}}")
    return "  ".join(parts)


class CheckpointMarkerCallback(TrainerCallback):
    """Writes `.complete` into a checkpoint once the Trainer has written it, then rotates.

    Rotation is ours, not the Trainer's (which deletes old checkpoints before the new one is
    marked complete): `keep` complete checkpoints survive, the newest included.
    """

    def __init__(self, run: RunDir, keep: int | None):
        self.run = run
        self.keep = keep

    def on_save(self, args, state, control, **kwargs):
        self.run.mark_complete(state.global_step)
        self.run.rotate(self.keep)
        log.info("checkpoint %d saved", state.global_step)


class StopCallback(TrainerCallback):
    """Stops training with a saved checkpoint before the deadline, or soon after SIGTERM.

    The deadline check keeps room for two more steps plus the slowest save and eval seen so far.
    """

    def __init__(self, deadline_at: float | None):
        self.deadline_at = deadline_at
        self.reason: str | None = None
        self.training = False
        self._step_start = 0.0
        self._step_end = 0.0
        self.step_s = 0.0
        self.save_s = 0.0
        self.eval_s = 0.0
        self._eval_this_step = 0.0

    def request_stop(self, reason: str) -> None:
        self.reason = self.reason or reason

    def on_train_begin(self, args, state, control, **kwargs):
        self.training = True
        print(phase_line(Phase.TRAINING, f"step {state.global_step}"), file=sys.stderr, flush=True)

    def on_train_end(self, args, state, control, **kwargs):
        self.training = False

    def on_step_begin(self, args, state, control, **kwargs):
        self._step_start = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        now = self._step_end = time.monotonic()
        self._eval_this_step = 0.0
        self.step_s = max(self.step_s, now - self._step_start)
        if self.deadline_at is not None and self.reason is None:
            needed = 2 * self.step_s + self.save_s + self.eval_s
            if now + needed >= self.deadline_at:
                self.request_stop("deadline")
        # Data parallel: every rank stops at the same step, or the others would hang.
        if agree(self.reason is not None, args.device) and self.reason is None:
            self.request_stop("another process stopped")
        if self.reason is not None and state.global_step < state.max_steps:
            log.info(
                "stopping at step %d (%s): saving a checkpoint", state.global_step, self.reason
            )
            control.should_save = True
            control.should_evaluate = False
            control.should_training_stop = True

    def on_evaluate(self, args, state, control, **kwargs):
        self._eval_this_step = time.monotonic() - self._step_end
        self.eval_s = max(self.eval_s, self._eval_this_step)

    def on_save(self, args, state, control, **kwargs):
        spent = time.monotonic() - self._step_end - self._eval_this_step
        self.save_s = max(self.save_s, spent)
