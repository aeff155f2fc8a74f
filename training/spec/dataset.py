"""Training data: read JSONL / JSON arrays, detect the format, check every row by line (no torch).

Formats (one per file):
- `messages`: `{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}`
- `prompt_completion`: `{"prompt": "...", "completion": "..."}`
- `text`: `{"text": "..."}`
- `template`: any columns, rendered through `data.text_template` (the AI Toolkit's `text_cols` +
  `text_template`, e.g. `<|user|>\\n{phrase}<|end|>\\n<|assistant|>\\n{tone}<|end|>`).

`check_file` returns TRL-ready examples plus line-numbered errors and warnings; training refuses to
start on errors, `validate` prints them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from training.spec.errors import UserError
from training.spec.schema import TEMPLATE_FIELD, DataSection

ROLES = ("system", "user", "assistant")
MAX_LISTED_LINES = 5
JSON_SPACE = " \t\r\n"  # the only whitespace JSON allows between values
# A preference-pair file (training.spec.preference_data) handed to SFT.
PAIRS_NOT_SFT = (
    "this file holds preference pairs ('prompt', 'chosen', 'rejected'), not SFT rows: set "
    "train.method: dpo or orpo to train on them"
)


@dataclass(frozen=True)
class Problem:
    """One finding about a data file; `line` is 1-based, None for the whole file. Findings of one
    `kind` (e.g. "duplicate") may be summarised when printed."""

    line: int | None
    message: str
    kind: str | None = None


@dataclass
class DataCheck:
    """What `check_file` found: the detected format, good examples (with lines) and problems."""

    path: Path
    format: str | None
    examples: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


class DataError(UserError, ValueError):
    """The data cannot be trained on; the message names the file and line."""


def read_rows(path: Path) -> tuple[list[tuple[int, Any]], list[Problem]]:
    """Rows of a JSONL file or a JSON array, each with its line number, plus parse errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], [Problem(None, "file not found")]
    except UnicodeDecodeError:
        return [], [Problem(None, "not UTF-8 text")]
    except OSError as exc:
        return [], [Problem(None, f"cannot read: {exc.strerror}")]
    if text.lstrip(JSON_SPACE).startswith("["):
        return _read_json_array(text)
    rows: list[tuple[int, Any]] = []
    errors: list[Problem] = []
    for number, line in enumerate(jsonl_lines(text), start=1):
        if not line.strip(JSON_SPACE):
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            errors.append(Problem(number, f"invalid JSON: {exc.msg} (column {exc.colno})"))
        except RecursionError:
            errors.append(Problem(number, "invalid JSON: nested too deeply"))
    return rows, errors


def jsonl_lines(text: str) -> list[str]:
    """The lines of JSONL text. Only "\\n" ends a line: `str.splitlines` also splits on U+2028,
    U+2029, U+0085 and other characters that JSON strings may hold unescaped."""
    return text.split("\n")


def _read_json_array(text: str) -> tuple[list[tuple[int, Any]], list[Problem]]:
    decoder = json.JSONDecoder()
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [Problem(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")]
    except RecursionError:
        return [], [Problem(None, "invalid JSON: nested too deeply")]
    rows: list[tuple[int, Any]] = []
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        value, end = decoder.raw_decode(text, pos)
        rows.append((text.count("\n", 0, pos) + 1, value))
        pos = end
    return rows, []


def detect_format(row: dict[str, Any], text_template: str | None) -> str | None:
    """The format a row is written in, or None when it matches none."""
    if text_template:
        return "template"
    if "messages" in row:
        return "messages"
    if "prompt" in row and "completion" in row:
        return "prompt_completion"
    if "text" in row:
        return "text"
    return None


def check_row(row: Any, fmt: str, data: DataSection) -> str | None:
    """Why a row cannot be used in format `fmt`, or None when it is fine."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    if fmt == "messages":
        return _check_messages(row)
    if fmt == "prompt_completion":
        return _check_text_fields(row, ("prompt", "completion"))
    if fmt == "text":
        return _check_text_fields(row, ("text",))
    return _check_template_row(row, data)


def _check_text_fields(row: dict[str, Any], names: Iterable[str]) -> str | None:
    for name in names:
        if name not in row:
            return f"missing field {name!r}"
        if not isinstance(row[name], str):
            return f"field {name!r} must be a string"
        if not row[name].strip():
            return f"empty {name!r}"
    return None


def _check_messages(row: dict[str, Any]) -> str | None:
    messages = row.get("messages")
    if messages is None:
        return "missing field 'messages'"
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    reason = check_turns(messages, "message")
    if reason:
        return reason
    if messages[-1]["role"] != "assistant":
        return "the last message must be from the 'assistant'"
    return None


def check_turns(messages: list[Any], where: str) -> str | None:
    """Why `messages` are not a conversation: each a message (`check_message`), a 'system' one
    only first, then 'user' and 'assistant' taking turns from 'user'. `where` names them
    ("message" 1, 2, ...; "prompt message" for preference pairs)."""
    expected = "user"
    for index, message in enumerate(messages, start=1):
        reason = check_message(message, f"{where} {index}")
        if reason:
            return reason
        role = message["role"]
        if role == "system":
            if index != 1:
                return f"{where} {index}: 'system' is only allowed as the first message"
            continue
        if role != expected:
            return f"{where} {index}: wrong role order: expected {expected!r}, got {role!r}"
        expected = "assistant" if role == "user" else "user"
    return None


def check_message(message: Any, where: str) -> str | None:
    """Why `message` (named `where` in the reason) is not a chat message with a known role and
    text content."""
    if not isinstance(message, dict) or "role" not in message or "content" not in message:
        return f"{where}: needs 'role' and 'content'"
    role, content = message["role"], message["content"]
    if role not in ROLES:
        return f"{where}: unknown role {role!r} (use {', '.join(ROLES)})"
    if not isinstance(content, str):
        return f"{where}: 'content' must be a string"
    if not content.strip():
        return f"{where}: empty content"
    return None


def _check_template_row(row: dict[str, Any], data: DataSection) -> str | None:
    assert data.text_template is not None
    for column in data.text_cols or ():
        if column not in row:
            return f"missing column {column!r} (listed in data.text_cols)"
    for column in TEMPLATE_FIELD.findall(data.text_template):
        if column not in row:
            return f"unknown template column {column!r}: this row has {', '.join(row) or 'none'}"
        value = row[column]
        if value is None or (isinstance(value, str) and not value.strip()):
            return f"empty column {column!r}"
        if isinstance(value, dict | list):
            return f"column {column!r} must be a string or number"
    return None


def render_template(template: str, row: dict[str, Any]) -> str:
    """Fill `{column}` placeholders from a row; other braces are kept as they are."""
    return TEMPLATE_FIELD.sub(lambda m: str(row[m.group(1)]), template)


def to_example(row: dict[str, Any], fmt: str, data: DataSection) -> dict[str, Any]:
    """A checked row in the shape TRL's SFTTrainer takes (extra columns dropped)."""
    if fmt == "messages":
        return {"messages": [{"role": m["role"], "content": m["content"]} for m in row["messages"]]}
    if fmt == "prompt_completion":
        return {"prompt": row["prompt"], "completion": row["completion"]}
    if fmt == "text":
        return {"text": row["text"]}
    assert data.text_template is not None
    return {"text": render_template(data.text_template, row)}


def check_file(path: Path, data: DataSection) -> DataCheck:
    """Read, detect and check every row of `path`; duplicates are warnings."""
    fmt = None if data.format == "auto" else data.format
    if data.format == "auto" and data.text_template:
        fmt = "template"

    def detect(row: dict[str, Any]) -> tuple[str | None, str | None]:
        found = detect_format(row, data.text_template)
        if found is None and "chosen" in row and "rejected" in row:
            return None, PAIRS_NOT_SFT
        if found is None:
            return None, (
                "cannot tell the format: expected 'messages', 'prompt'+'completion' or "
                "'text' fields (or set data.text_template)"
            )
        return found, None

    def accept(row: Any, fmt: str) -> str | Accepted:
        reason = check_row(row, fmt, data)
        if reason:
            return reason
        example = to_example(row, fmt, data)
        return Accepted(example, example_text(example), json.dumps(row, sort_keys=True))

    return check_rows(path, fmt, "text", detect, accept)


class Accepted(NamedTuple):
    """A usable row: its example, all the example's text, and the key that makes two rows
    duplicates."""

    example: dict[str, Any]
    text: str
    key: str


def check_rows(
    path: Path,
    fmt: str | None,
    default: str,
    detect: Callable[[dict[str, Any]], tuple[str | None, str | None]],
    accept: Callable[[Any, str], str | Accepted],
) -> DataCheck:
    """Read `path` and check every row by line: the loop of `check_file` here and in
    `preference_data`. Unless `fmt` is given, the first object tells the format (`detect`: the
    format, or why there is none, which ends the check); `accept` refuses a row (why) or makes its
    example (`default` format until one is known). A lone surrogate in the text is an error, a
    repeated key a warning, a file without rows an error."""
    rows, errors = read_rows(path)
    check = DataCheck(path=path, format=fmt, errors=list(errors))
    seen: dict[str, int] = {}
    for line, row in rows:
        if check.format is None and isinstance(row, dict):
            check.format, reason = detect(row)
            if reason is not None:
                check.errors.append(Problem(line, reason))
                return check
        accepted = accept(row, check.format or default)
        if isinstance(accepted, str):
            check.errors.append(Problem(line, accepted))
            continue
        if not _is_unicode(accepted.text):
            # JSON's "\\ud800" escape decodes to a lone surrogate, which no tokenizer accepts.
            check.errors.append(
                Problem(line, "invalid text: a lone UTF-16 surrogate (\\uD800-\\uDFFF)")
            )
            continue
        if accepted.key in seen:
            check.warnings.append(
                Problem(line, f"duplicate of line {seen[accepted.key]}", "duplicate")
            )
        else:
            seen[accepted.key] = line
        check.examples.append((line, accepted.example))
    if not rows and not errors:
        check.errors.append(Problem(None, "no examples in the file"))
    return check


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def example_text(example: dict[str, Any]) -> str:
    """All the text of an example, for length estimates."""
    if "messages" in example:
        return "\n".join(m["content"] for m in example["messages"])
    if "prompt" in example:
        return example["prompt"] + example["completion"]
    return example["text"]


def long_examples(
    examples: list[tuple[int, dict[str, Any]]],
    max_length: int,
    count_tokens: Callable[[str], int],
    per_message_overhead: int = 4,
) -> list[int]:
    """Lines of examples whose token count (plus chat-template overhead) exceeds `max_length`."""
    lines = []
    for line, example in examples:
        overhead = per_message_overhead * len(example.get("messages", ()))
        if _more_tokens_than(example_text(example), max_length - overhead, count_tokens):
            lines.append(line)
    return lines


def _more_tokens_than(text: str, budget: int, count_tokens: Callable[[str], int]) -> bool:
    """Whether `text` has more than `budget` tokens, counting on prefixes that double from about
    four characters a token: the work stops soon after the budget, however long the text (a
    tokenizer given a whole 1 MB example peaked at 233 MiB; a 50 MB one did not finish)."""
    if budget < 0:
        return True
    size = max(4 * (budget + 1), 256)
    while True:
        if count_tokens(text[:size]) > budget:
            return True
        if size >= len(text):
            return False
        size *= 2


def split_eval(
    examples: list[dict[str, Any]], fraction: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Hold out `fraction` of the examples (at least one when fraction > 0), reproducibly."""
    if fraction <= 0:
        return examples, []
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_eval = max(1, round(len(examples) * fraction))
    held = set(order[:n_eval])
    train = [e for i, e in enumerate(examples) if i not in held]
    evals = [e for i, e in enumerate(examples) if i in held]
    return train, evals


def format_lines(lines: list[int]) -> str:
    """'3, 9, 12 and 4 more' style list of line numbers."""
    shown = ", ".join(str(n) for n in lines[:MAX_LISTED_LINES])
    extra = len(lines) - MAX_LISTED_LINES
    return f"{shown} and {extra} more" if extra > 0 else shown
