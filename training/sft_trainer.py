"""TRL's `SFTTrainer` for a run (and the arguments and callbacks every method shares: see
`training.preference_trainer`), and what follows training: the adapter saved atomically, and
the trainer-state facts `training.train` reads. The third of its three parts.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.distributed import world
from training.rundir import RunDir
from training.spec.errors import UserError

if TYPE_CHECKING:
    from training.hardware import Hardware
    from training.spec.config import TrainingConfig

log = logging.getLogger("training")


def trainer_args(
    config: TrainingConfig, run: RunDir, hw: Hardware, precision: str, has_eval: bool
) -> dict[str, Any]:
    """The TrainingArguments every method shares (SFTConfig, DPOConfig and ORPOConfig alike)."""
    from training import tracking

    t = config.train
    return {
        "output_dir": str(run.checkpoints),
        "learning_rate": t.learning_rate,
        "num_train_epochs": t.epochs,
        "max_steps": t.max_steps,
        "per_device_train_batch_size": t.batch_size,
        "per_device_eval_batch_size": t.eval_batch_size or t.batch_size,
        "gradient_accumulation_steps": t.gradient_accumulation_steps,
        "max_length": t.max_length,
        "gradient_checkpointing": t.gradient_checkpointing,
        "gradient_checkpointing_kwargs": {"use_reentrant": False},
        "optim": t.optimizer,
        "lr_scheduler_type": t.lr_scheduler,
        "warmup_steps": t.warmup_ratio,
        "weight_decay": t.weight_decay,
        "max_grad_norm": t.max_grad_norm,
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "use_cpu": not hw.cuda,
        "seed": t.seed,
        "data_seed": t.seed,
        "logging_steps": t.logging_steps,
        "logging_first_step": True,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": t.eval_steps or t.save_steps,
        "save_strategy": "steps",
        "save_steps": t.save_steps,
        "save_total_limit": None,  # CheckpointMarkerCallback rotates complete checkpoints
        "include_num_input_tokens_seen": "non_padding",
        "report_to": tracking.report_to(config),  # training.tracking opens the MLflow run
        "run_name": run.root.name,
        "disable_tqdm": True,
        "dataloader_pin_memory": hw.cuda,
        "ddp_backend": None if hw.cuda or not world().distributed else "gloo",
        "ddp_find_unused_parameters": False,  # LoRA: frozen base weights are not "unused"
    }


def make_args(config_class: type, config: TrainingConfig, hw: Hardware, **kwargs: Any) -> Any:
    """`config_class(**kwargs)`, its complaints as the user's error; paged optimizers need CUDA."""
    try:
        args = config_class(**kwargs)
    except ValueError as exc:
        raise UserError(f"train: {exc}") from None
    if args.optim.value.startswith("paged_") and not hw.cuda:
        raise UserError(
            f"train.optimizer {config.train.optimizer} needs a CUDA GPU; use adamw_torch on CPU"
        )
    return args


def finish_trainer(trainer, precision: str):
    """Our callbacks speak for the trainer; adapters stay fp32 unless training in bf16."""
    import torch
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # MetricsCallback prints one short line instead
    if precision != "bf16":
        # TRL casts QLoRA adapters to bf16; fp16 mixed precision (T4) and fp32 (CPU) need fp32.
        for param in trainer.model.parameters():
            if param.requires_grad and param.dtype != torch.float32:
                param.data = param.data.float()
    return trainer


def callbacks(config: TrainingConfig, run: RunDir) -> list[Any]:
    from training.callbacks import CheckpointMarkerCallback, MetricsCallback

    return [
        MetricsCallback(run.metrics),
        CheckpointMarkerCallback(run, config.train.save_total_limit),
    ]


@dataclass(frozen=True)
class Method:
    """One TRL trainer: its class, its arguments' class, what it adds to (or changes in) the
    arguments every method shares, and what it adds to the trainer's own keywords."""

    trainer: type
    arguments: type
    args: dict[str, Any] = field(default_factory=dict)
    trainer_kwargs: dict[str, Any] = field(default_factory=dict)


def build_with(
    method: Method,
    config: TrainingConfig,
    run: RunDir,
    model: Any,
    tokenizer: Any,
    train_ds: Any,
    eval_ds: Any,
    hw: Hardware,
    precision: str,
) -> Any:
    """`method`'s trainer with the shared arguments and callbacks (SFT, DPO and ORPO alike)."""
    common = trainer_args(config, run, hw, precision, eval_ds is not None)
    args = make_args(method.arguments, config, hw, **{**common, **method.args})
    trainer = method.trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        callbacks=callbacks(config, run),
        **method.trainer_kwargs,
    )
    return finish_trainer(trainer, precision)


def build_trainer(
    config: TrainingConfig,
    run: RunDir,
    model: Any,
    tokenizer: Any,
    train_ds: Any,
    eval_ds: Any,
    loss_args: dict[str, Any],
    hw: Hardware,
    precision: str,
) -> Any:
    from trl import SFTConfig, SFTTrainer

    sft = Method(SFTTrainer, SFTConfig, {"packing": config.train.packing, **loss_args})
    return build_with(sft, config, run, model, tokenizer, train_ds, eval_ds, hw, precision)


def save_adapter(trainer, run: RunDir, model_ref) -> None:
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


def tokens_seen(checkpoint: Path | None) -> int:
    if checkpoint is None:
        return 0
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return 0
    return int(state.get("num_input_tokens_seen") or 0)


def last_eval_step(trainer) -> int | None:
    """The step of the last evaluation in this process's log history (the same on every rank,
    unlike metrics.jsonl, which only rank 0 writes)."""
    steps = [r["step"] for r in trainer.state.log_history if "eval_loss" in r]
    return steps[-1] if steps else None
