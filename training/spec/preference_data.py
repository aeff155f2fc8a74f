"""Preference pairs for DPO and ORPO: read, detect and check every row by line (no torch).

TRL's preference formats with an explicit prompt, one per file:

- `preference` (text): `{"prompt": "...", "chosen": "...", "rejected": "..."}`
- `preference_messages` (conversational): `{"prompt": [{"role": "user", "content": "..."}],
  "chosen": [{"role": "assistant", "content": "..."}], "rejected": [{"role": "assistant", ...}]}`;
  the prompt is messages (optional system first, user and assistant alternating, ending with the
  user), chosen and rejected are assistant messages.

Errors, each with its line: a missing or empty field, chosen equal to rejected, a prompt that is
not messages when the file's first row was (mixed formats), SFT rows in a DPO/ORPO run; and a
prompt as long as `train.max_length` or longer (`long_prompts`), which TRL would drop without a
word (its `keep_start` truncation leaves no answer token to learn from). Pairs longer than
`max_length` are truncated (a warning, like SFT's long examples).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from training.spec.dataset import (
    Accepted,
    DataCheck,
    check_message,
    check_rows,
    check_turns,
    detect_format,
)

TEXT, MESSAGES = "preference", "preference_messages"
FORMATS = (TEXT, MESSAGES)
FIELDS = ("prompt", "chosen", "rejected")
PER_MESSAGE_OVERHEAD = 4  # chat-template tokens around each message (role, separators)


def looks_like_pairs(row: Any) -> bool:
    return isinstance(row, dict) and "chosen" in row and "rejected" in row


def row_format(row: dict[str, Any]) -> str:
    """The format a row's prompt is written in (text unless it is a list of messages)."""
    return MESSAGES if isinstance(row.get("prompt"), list) else TEXT


def check_row(row: Any, fmt: str) -> str | None:
    """Why a row is not a usable pair in format `fmt`, or None when it is fine."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    for name in FIELDS:
        if name not in row:
            if name == "prompt" and looks_like_pairs(row):
                return "missing field 'prompt' (put the shared question in 'prompt')"
            return f"missing field {name!r}"
    if row_format(row) != fmt:
        first = "messages" if fmt == MESSAGES else "text"
        return f"mixed formats: this prompt is {_kind(row['prompt'])}, the file's first is {first}"
    if fmt == TEXT:
        for name in FIELDS:
            if not isinstance(row[name], str):
                return (
                    f"field {name!r} must be a string (the prompt is text), got {_kind(row[name])}"
                )
            if not row[name].strip():
                return f"empty {name!r}"
        if row["chosen"].strip() == row["rejected"].strip():
            return "chosen and rejected are the same text: the pair teaches nothing"
        return None
    reason = _check_prompt_messages(row["prompt"])
    if reason:
        return reason
    for name in ("chosen", "rejected"):
        reason = _check_answer_messages(row[name], name)
        if reason:
            return reason
    if _contents(row["chosen"]) == _contents(row["rejected"]):
        return "chosen and rejected are the same text: the pair teaches nothing"
    return None


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "messages"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _check_prompt_messages(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "'prompt' must be a non-empty list of messages"
    reason = check_turns(messages, "prompt message")
    if reason:
        return reason
    if messages[-1]["role"] != "user":
        return "the prompt's last message must be from the 'user'"
    return None


def _check_answer_messages(messages: Any, name: str) -> str | None:
    if not isinstance(messages, list) or not messages:
        return f"{name!r} must be a non-empty list of assistant messages"
    for index, message in enumerate(messages, start=1):
        reason = check_message(message, f"{name} message {index}")
        if reason:
            return reason
        if message["role"] != "assistant":
            return f"{name} message {index}: expected role 'assistant', got {message['role']!r}"
    return None


def _contents(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"].strip() for m in messages]


def to_example(row: dict[str, Any]) -> dict[str, Any]:
    """A checked row in the shape TRL's DPOTrainer and ORPOTrainer take (extra keys dropped)."""
    if row_format(row) == TEXT:
        return {name: row[name] for name in FIELDS}
    return {
        name: [{"role": m["role"], "content": m["content"]} for m in row[name]] for name in FIELDS
    }


def example_texts(example: dict[str, Any]) -> tuple[str, str, str]:
    """(prompt, chosen, rejected) as plain text, for length counts."""
    out = []
    for name in FIELDS:
        value = example[name]
        out.append(value if isinstance(value, str) else "\n".join(m["content"] for m in value))
    return out[0], out[1], out[2]


def check_file(path: Path) -> DataCheck:
    """Read and check every row of a preference file; duplicates are warnings."""
    return check_rows(path, None, TEXT, _detect, _accept)


def _detect(row: dict[str, Any]) -> tuple[str | None, str | None]:
    if not looks_like_pairs(row):
        sft = detect_format(row, None)
        if sft is not None:
            return None, sft_rows_message(sft)
    return row_format(row), None


def _accept(row: Any, fmt: str) -> str | Accepted:
    reason = check_row(row, fmt)
    if reason:
        return reason
    example = to_example(row)
    return Accepted(example, "".join(example_texts(example)), json.dumps(example, sort_keys=True))


def sft_rows_message(sft_format: str) -> str:
    return (
        f"this file holds SFT rows ({sft_format!r} format), not preference pairs: train.method "
        "dpo/orpo needs 'prompt', 'chosen' and 'rejected' in every row (or set train.method: sft)"
    )


def prompt_tokens(example: dict[str, Any], count_tokens: Callable[[str], int]) -> int:
    prompt = example["prompt"]
    if isinstance(prompt, str):
        return count_tokens(prompt)
    return count_tokens(example_texts(example)[0]) + PER_MESSAGE_OVERHEAD * (len(prompt) + 1)


def long_prompts(
    examples: list[tuple[int, dict[str, Any]]],
    max_length: int,
    count_prompt: Callable[[dict[str, Any]], int],
) -> list[int]:
    """Lines whose prompt alone fills `max_length` tokens: TRL would drop them silently."""
    return [line for line, example in examples if count_prompt(example) >= max_length]


def long_pairs(
    examples: list[tuple[int, dict[str, Any]]],
    max_length: int,
    count_tokens: Callable[[str], int],
) -> list[int]:
    """Lines whose prompt plus the longer answer exceeds `max_length` (truncated in training)."""
    lines = []
    for line, example in examples:
        _, chosen, rejected = example_texts(example)
        answer = max(count_tokens(chosen), count_tokens(rejected))
        if prompt_tokens(example, count_tokens) + answer > max_length:
            lines.append(line)
    return lines
