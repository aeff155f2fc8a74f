"""The run's data as TRL datasets, with the loss flags its format calls for. The second of
`training.train`'s three parts (`training.spec.dataset` checks the files; this shapes them for TRL).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from training.spec import dataset, paths
from training.spec.config import TrainingConfig
from training.spec.errors import UserError

log = logging.getLogger("training")


def datasets(config: TrainingConfig, workspace: Path, tokenizer):
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
