"""QLoRA supervised fine-tuning with TRL's SFTTrainer: `main(config)` runs one execution of a run.

Shaped like trl's `scripts/sft.py`: model and tokenizer, dataset, trainer, then
`train(resume_from_checkpoint=<newest complete checkpoint>)` and save. An execution ends as
`succeeded` (exit 0), `resumable` (exit 75: deadline or SIGTERM, checkpoint saved), or `failed`
(exit 1, or 2 for errors the user can fix).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contract.exit_codes import TrainingExit
from contract.phases import Phase, phase_line
from training import dataset, paths
from training.config import ConfigError, TrainingConfig, to_dict
from training.distributed import world
from training.errors import UserError
from training.models import ModelNotFoundError
from training.rundir import RunDir, write_atomic
from training.validate import validate_config

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
) -> int:
    """Train (or resume) the run `config` describes; returns the process exit code.

    `deadline` is a time budget in seconds counted from `started_at` (default: now, as
    `time.monotonic()`); the run stops with a checkpoint before the budget runs out.
    """
    from training.callbacks import StopCallback

    started_at = time.monotonic() if started_at is None else started_at
    root = paths.workspace_root(workspace)
    try:
        run = RunDir(paths.run_dir(config, root), writer=world().main)
    except ConfigError as exc:  # output.dir leaves the workspace: write nothing anywhere
        log.error("%s", exc)
        return TrainingExit.USER_ERROR
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
        return TrainingExit.RESUMABLE
    except (ConfigError, dataset.DataError, UserError, ModelNotFoundError) as exc:
        log.error("%s", exc)
        run.set_status("failed")
        return TrainingExit.USER_ERROR
    except Exception:
        log.exception("training failed")
        run.set_status("failed")
        return TrainingExit.FAILED
    finally:
        restore()
    run.set_status(outcome.status)
    log.info("run %s: %s", outcome.status, run.root)
    return TrainingExit.OK if outcome.status == "succeeded" else TrainingExit.RESUMABLE


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
    return lambda: signal.signal(signal.SIGTERM, previous)


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

    # ---- model and tokenizer ----
    model_ref = paths.classify_model(config.model.name, workspace)
    print(phase_line(Phase.LOADING_MODEL, config.model.name), file=sys.stderr, flush=True)
    model, tokenizer = _load_model(config, model_ref, workspace, hw, precision)

    # ---- dataset ----
    train_ds, eval_ds, loss_args = _datasets(config, workspace, tokenizer)

    # ---- trainer ----
    trainer = _trainer(config, run, model, tokenizer, train_ds, eval_ds, loss_args, hw, precision)
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
    tokens_before = _tokens_seen(resume)
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    train_time = time.monotonic() - train_start
    state = trainer.state
    finished = state.global_step >= state.max_steps
    if finished:
        if eval_ds is not None and _last_eval_step(trainer) != state.global_step:
            trainer.evaluate()  # every process: evaluation is a collective step
        if run.writer:
            _save_adapter(trainer, run, model_ref)
    if not run.writer:
        return Outcome("succeeded" if finished else "resumable", {})
    metrics = report.read_metrics(run.metrics)
    report.plot_loss(metrics, run.loss_plot, title=f"{config.model.name}: {run.root.name}")
    tokens = int(state.num_input_tokens_seen or 0)
    rate = (tokens - tokens_before) / train_time if train_time else None
    summary = {
        "status": "succeeded" if finished else "resumable",
        "stop_reason": None if finished else stopper.reason,
        "model": config.model.name,
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
    return Outcome(summary["status"], summary)


def _load_model(config: TrainingConfig, ref, workspace: Path, hw, precision: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training import hardware, models, quant

    path = ref.path or models.resolve_model(ref.name, paths.model_cache(workspace))
    trust = config.model.trust_remote_code
    with _model_files(path):
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = hardware.compute_dtype(config.quantization, precision, hw)
    bnb = quant.bnb_config(config.quantization, dtype, hw)
    kwargs: dict[str, Any] = {"dtype": hardware.load_dtype(precision), "trust_remote_code": trust}
    if config.model.attn_implementation:
        kwargs["attn_implementation"] = config.model.attn_implementation
    if bnb is not None:
        kwargs["quantization_config"] = bnb
    here = world()
    if bnb is not None or (hw.gpu_count > 1 and not here.distributed):
        # Data parallel: each process's (4-bit) model on its own GPU, never split across them.
        kwargs["device_map"] = quant.device_map(hw, here.local_rank if here.distributed else None)
    with _model_files(path):
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if config.train.gradient_checkpointing:
        model.config.use_cache = False
    if bnb is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=config.train.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    return _with_lora(config, model), tokenizer


@contextlib.contextmanager
def _model_files(path: Path):
    """Unreadable or corrupt model files (a truncated safetensors, no tokenizer, a config.json
    without model_type) are the user's to fix: one error naming the folder, not a traceback.
    transformers raises ValueError or OSError for these; only the loading calls are wrapped."""
    from safetensors import SafetensorError

    try:
        yield
    except (OSError, ValueError, SafetensorError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot load the model in {path}: {first}") from None


def _with_lora(config: TrainingConfig, model):
    from peft import get_peft_model

    from training.lora import lora_config

    num_layers = getattr(model.config.get_text_config(), "num_hidden_layers", None)
    peft_config = lora_config(config.lora, model.config.model_type, num_layers)
    try:
        return get_peft_model(model, peft_config)
    except ValueError as exc:
        raise UserError(f"lora.target_modules: {exc}") from None


def _datasets(config: TrainingConfig, workspace: Path, tokenizer):
    """TRL-ready train/eval datasets and the loss flags that fit the data format."""
    from datasets import Dataset
    from trl.chat_template_utils import has_generation_markers

    data = config.data
    train_check = dataset.check_file(paths.in_workspace(data.train_file, workspace), data)
    train = [example for _, example in train_check.examples]
    if data.eval_file:
        eval_check = dataset.check_file(paths.in_workspace(data.eval_file, workspace), data)
        evals = [example for _, example in eval_check.examples]
    else:
        train, evals = dataset.split_eval(train, data.eval_split, config.train.seed)
    fmt = train_check.format
    loss = {"completion_only_loss": False, "assistant_only_loss": False}
    if fmt == "messages":
        if not tokenizer.chat_template:
            raise UserError(
                "data is in 'messages' format but the model's tokenizer has no chat template; "
                "use prompt_completion or text data"
            )
        if data.completion_only_loss:
            if has_generation_markers(tokenizer.chat_template):
                loss["assistant_only_loss"] = True
            else:
                # Without {% generation %} markers, train on the last assistant turn.
                train = [_split_last_turn(e) for e in train]
                evals = [_split_last_turn(e) for e in evals]
                loss["completion_only_loss"] = True
    elif fmt == "prompt_completion":
        loss["completion_only_loss"] = data.completion_only_loss
    log.info(
        "data: %s format, %d train / %d eval examples, loss on %s",
        fmt,
        len(train),
        len(evals),
        "completions only" if any(loss.values()) else "all tokens",
    )
    eval_ds = Dataset.from_list(evals) if evals else None
    return Dataset.from_list(train), eval_ds, loss


def _split_last_turn(example: dict[str, Any]) -> dict[str, Any]:
    messages = example["messages"]
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def _trainer(config, run: RunDir, model, tokenizer, train_ds, eval_ds, loss_args, hw, precision):
    import torch
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    from training.callbacks import CheckpointMarkerCallback, MetricsCallback

    t = config.train
    try:
        args = SFTConfig(
            output_dir=str(run.checkpoints),
            learning_rate=t.learning_rate,
            num_train_epochs=t.epochs,
            max_steps=t.max_steps,
            per_device_train_batch_size=t.batch_size,
            per_device_eval_batch_size=t.eval_batch_size or t.batch_size,
            gradient_accumulation_steps=t.gradient_accumulation_steps,
            max_length=t.max_length,
            packing=t.packing,
            gradient_checkpointing=t.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
            optim=t.optimizer,
            lr_scheduler_type=t.lr_scheduler,
            warmup_steps=t.warmup_ratio,
            weight_decay=t.weight_decay,
            max_grad_norm=t.max_grad_norm,
            bf16=precision == "bf16",
            fp16=precision == "fp16",
            use_cpu=not hw.cuda,
            seed=t.seed,
            data_seed=t.seed,
            logging_steps=t.logging_steps,
            logging_first_step=True,
            eval_strategy="steps" if eval_ds is not None else "no",
            eval_steps=t.eval_steps or t.save_steps,
            save_strategy="steps",
            save_steps=t.save_steps,
            save_total_limit=None,  # CheckpointMarkerCallback rotates complete checkpoints
            include_num_input_tokens_seen="non_padding",
            report_to="none",
            disable_tqdm=True,
            dataloader_pin_memory=hw.cuda,
            ddp_backend=None if hw.cuda or not world().distributed else "gloo",
            ddp_find_unused_parameters=False,  # LoRA: frozen base weights are not "unused"
            **loss_args,
        )
    except ValueError as exc:
        raise UserError(f"train: {exc}") from None
    if args.optim.value.startswith("paged_") and not hw.cuda:
        raise UserError(f"train.optimizer {t.optimizer} needs a CUDA GPU; use adamw_torch on CPU")
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        callbacks=[MetricsCallback(run.metrics), CheckpointMarkerCallback(run, t.save_total_limit)],
    )
    trainer.remove_callback(PrinterCallback)  # MetricsCallback prints one short line instead
    if precision != "bf16":
        # TRL casts QLoRA adapters to bf16; fp16 mixed precision (T4) and fp32 (CPU) need fp32.
        for param in trainer.model.parameters():
            if param.requires_grad and param.dtype != torch.float32:
                param.data = param.data.float()
    return trainer


def _save_adapter(trainer, run: RunDir, model_ref) -> None:
    """Write adapter/ atomically; base_model_name_or_path names the model id, not a cache path."""
    tmp = run.root / ".adapter.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.model.save_pretrained(tmp)
    # Patched after saving: PEFT would look a Hub id up online while saving.
    base = str(model_ref.path) if model_ref.kind == "local" else model_ref.name
    config_file = tmp / "adapter_config.json"
    adapter_config = json.loads(config_file.read_text())
    adapter_config["base_model_name_or_path"] = base
    config_file.write_text(json.dumps(adapter_config, indent=2) + "\n")
    if run.adapter.exists():
        shutil.rmtree(run.adapter)
    os.replace(tmp, run.adapter)
    log.info("adapter saved to %s", run.adapter)


def _tokens_seen(checkpoint: Path | None) -> int:
    if checkpoint is None:
        return 0
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return 0
    return int(state.get("num_input_tokens_seen") or 0)


def _last_eval_step(trainer) -> int | None:
    """The step of the last evaluation in this process's log history (the same on every rank,
    unlike metrics.jsonl, which only rank 0 writes)."""
    steps = [r["step"] for r in trainer.state.log_history if "eval_loss" in r]
    return steps[-1] if steps else None
