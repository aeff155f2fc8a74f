"""Preference tuning: TRL's `DPOTrainer` or `ORPOTrainer` for a run, and its pairs as datasets.

TRL 1.16 ships `DPOTrainer` in `trl` and `ORPOTrainer` under `trl.experimental.orpo` (moved there
in TRL 1.0; the experimental namespace may change between minor versions, which the lock pins).

- DPO: the model reaches the trainer *without* its adapter, with the run's `LoraConfig` as
  `peft_config`; DPOTrainer wraps it and computes the reference log-probabilities with the adapter
  disabled, so the reference is the base itself: no second copy of the model in memory. (Given a
  model already wrapped, DPOTrainer would add a second "ref" adapter instead.)
- ORPO has no reference model: the adapter is wrapped as for SFT.

Checkpoints, rotation, deadline stops, resume, metrics and data parallel are the same as SFT's:
the trainers are `transformers.Trainer`s, given the same arguments and callbacks
(`training.sft_trainer`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.rundir import RunDir
from training.sft_trainer import Method, build_with
from training.spec import dataset, methods, paths, preference_data
from training.spec.config import TrainingConfig
from training.spec.errors import UserError

if TYPE_CHECKING:
    from training.hardware import Hardware

log = logging.getLogger("training")


def datasets(config: TrainingConfig, workspace: Path, tokenizer):
    """TRL-ready train/eval preference datasets; a prompt that fills `train.max_length` with the
    model's own tokenizer (and chat template) is an error naming its file and line."""
    from datasets import Dataset

    data = config.data
    files = [paths.in_workspace(data.train_file, workspace)]
    if data.eval_file:
        files.append(paths.in_workspace(data.eval_file, workspace))
    checks = [preference_data.check_file(path) for path in files]
    for check in checks:
        if check.errors:  # validate ran first; a file changed since is still caught here
            where = [f"{check.path}:{p.line}" if p.line else str(check.path) for p in check.errors]
            raise dataset.DataError(
                "\n".join(f"{w}: {p.message}" for w, p in zip(where, check.errors, strict=True))
            )
    fmt = checks[0].format
    if fmt == preference_data.MESSAGES and not tokenizer.chat_template:
        raise UserError(
            "the pairs' prompts are messages but the model's tokenizer has no chat template; "
            "write prompt, chosen and rejected as text"
        )
    count = _prompt_counter(tokenizer)
    problems = []
    for check in checks:
        long = preference_data.long_prompts(check.examples, config.train.max_length, count)
        problems += [
            f"{check.path}:{line}: the prompt is {count(example)} tokens, "
            f"train.max_length={config.train.max_length} leaves no room for an answer"
            for line, example in check.examples
            if line in set(long)
        ]
    if problems:
        raise dataset.DataError("\n".join(problems))
    train = [example for _, example in checks[0].examples]
    if data.eval_file:
        evals = [example for _, example in checks[1].examples]
    else:
        train, evals = dataset.split_eval(train, data.eval_split, config.train.seed)
    log.info(
        "data: %s format, %d train / %d eval pairs, %s (beta %g)",
        fmt,
        len(train),
        len(evals),
        config.train.method,
        methods.beta(config),
    )
    return Dataset.from_list(train), Dataset.from_list(evals) if evals else None


def _prompt_counter(tokenizer):
    """Prompt tokens as the trainers count them: the chat template with the generation prompt
    for messages, the tokenizer's own special tokens for text."""

    def count(example) -> int:
        prompt = example["prompt"]
        if isinstance(prompt, list):
            text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])
        return len(tokenizer(prompt)["input_ids"])

    return count


def build_trainer(
    config: TrainingConfig,
    run: RunDir,
    model: Any,
    tokenizer: Any,
    train_ds: Any,
    eval_ds: Any,
    hw: Hardware,
    precision: str,
) -> Any:
    if config.train.method != methods.DPO:
        return build_with(
            _orpo(config), config, run, model, tokenizer, train_ds, eval_ds, hw, precision
        )
    try:
        return build_with(
            _dpo(config, model), config, run, model, tokenizer, train_ds, eval_ds, hw, precision
        )
    except ValueError as exc:
        if "target module" in str(exc).lower():
            raise UserError(f"lora.target_modules: {exc}") from None
        raise


def _dpo(config: TrainingConfig, model: Any) -> Method:
    from trl import DPOConfig, DPOTrainer

    from training.model_setup import peft_config

    t = config.train
    extra = {}
    if t.label_smoothing is not None:
        extra["label_smoothing"] = t.label_smoothing
    args = {"beta": methods.beta(config), "loss_type": [methods.loss_type(config)], **extra}
    return Method(DPOTrainer, DPOConfig, args, {"peft_config": peft_config(config, model)})


def _orpo(config: TrainingConfig) -> Method:
    # TRL warns on every import from trl.experimental; where ORPO lives is documented above.
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    # ORPO's collator has no `input_ids` (chosen_* and rejected_* instead), so the Trainer cannot
    # count tokens: it would warn on every step. The summary reports no token rate for ORPO.
    # Its own collator needs every column (it would turn this off itself, with a warning).
    args = {
        "include_num_input_tokens_seen": "no",
        "remove_unused_columns": False,
        "beta": methods.beta(config),
    }
    return Method(ORPOTrainer, ORPOConfig, args)
