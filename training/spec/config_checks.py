"""The checks behind `training.spec.config.from_dict`: each key against its field's type, choices
and range (`build_section`), then the cross-key rules (`check_combinations`), and the rule that
keeps `output.dir` inside the workspace. Every error is a `ConfigError` naming key and line.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import types
import typing
from pathlib import PureWindowsPath
from typing import Any

from training.spec.methods import check_method
from training.spec.schema import INT_LIMIT, REQUIRED, TEMPLATE_FIELD, ConfigError, TrainingConfig

_SHOWN = reprlib.Repr()  # keyword arguments need Python 3.12
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict = 2, 6, 6
_SHOWN.maxstring, _SHOWN.maxlong, _SHOWN.maxother = 60, 40, 60


def shown(value: Any) -> str:
    """`repr(value)`, bounded: an error echoes at most a line of what it got."""
    return _SHOWN.repr(value)


def build_section(name: str, cls: type, raw: Any, lines: dict[str, int]) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"section {name!r} must be a mapping of keys", key=name, line=lines.get(name)
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{name}.{key}"
        if key not in fields:
            raise ConfigError(
                f"unknown key {dotted!r} in section {name!r}; known keys: {', '.join(fields)}",
                key=dotted,
                line=lines.get(dotted),
            )
        value = _coerce(value, hints[key], dotted, lines.get(dotted))
        choices = fields[key].metadata.get("choices")
        if choices and value is not None and value not in choices:
            raise ConfigError(
                f"{dotted} must be one of {', '.join(choices)} (got {shown(value)})",
                key=dotted,
                line=lines.get(dotted),
            )
        _check_range(value, fields[key].metadata.get("range"), dotted, lines.get(dotted))
        values[key] = value
    for key in REQUIRED.get(name, ()):
        if not values.get(key):
            raise ConfigError(
                f"missing required key {name}.{key}", key=f"{name}.{key}", line=lines.get(name)
            )
    return cls(**values)


def _coerce(value: Any, hint: Any, key: str, line: int | None) -> Any:
    """Check `value` against a field's type hint; ints are accepted for floats."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return None
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return _finite(value, key, line)
        if option is float and isinstance(value, str) and _is_float(value):
            return _finite(value, key, line)  # YAML 1.1 reads `2e-4` (no dot) as a string
        if option is str and isinstance(value, str):
            return _text(value, key, line)
        is_list = typing.get_origin(option) is tuple and isinstance(value, list)
        if is_list and all(isinstance(item, str) for item in value):
            return tuple(_text(item, key, line) for item in value)
    expected = " or ".join(_type_name(o) for o in options)
    raise ConfigError(f"{key} must be {expected} (got {shown(value)})", key=key, line=line)


def _text(value: str, key: str, line: int | None) -> str:
    """YAML's "\\ud800" escape gives a lone surrogate, which no path or tokenizer accepts."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(
            f"{key} must be valid Unicode text (it holds a lone UTF-16 surrogate)",
            key=key,
            line=line,
        ) from None
    return value


def _finite(value: int | float | str, key: str, line: int | None) -> float:
    """`value` as a float; NaN and infinities (`.inf`, `1e400`) train on NaN gradients: refused."""
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        number = math.inf
    if not math.isfinite(number):
        raise ConfigError(f"{key} must be a finite number (got {shown(value)})", key=key, line=line)
    return number


def _check_range(value: Any, bounds: tuple[int, int] | None, key: str, line: int | None) -> None:
    """Integers stay within the field's own range, else within +-INT_LIMIT."""
    if not isinstance(value, int) or isinstance(value, bool):
        return
    low, high = bounds or (-INT_LIMIT, INT_LIMIT)
    if not low <= value <= high:
        raise ConfigError(
            f"{key} must be between {low} and {high} (got {value})", key=key, line=line
        )


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _type_name(hint: Any) -> str:
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) is tuple:
        return "a list of strings"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(
        hint, str(hint)
    )


def check_combinations(config: TrainingConfig, lines: dict[str, int]) -> None:
    """Cross-key checks that need no files and no torch."""
    data, train, lora = config.data, config.train, config.lora

    def fail(key: str, message: str) -> None:
        raise ConfigError(message, key=key, line=lines.get(key))

    check_method(config, lines)  # keys of another method first: their message names it
    if not 0.0 <= data.eval_split < 1.0:
        fail("data.eval_split", "data.eval_split must be a fraction in [0, 1)")
    if data.eval_file and data.eval_split > 0:
        fail("data.eval_split", "set either data.eval_file or data.eval_split, not both")
    if data.format == "template" and not data.text_template:
        fail("data.format", "data.format 'template' needs data.text_template")
    if data.text_template:
        used = TEMPLATE_FIELD.findall(data.text_template)
        if not used:
            fail("data.text_template", "data.text_template uses no {column} placeholder")
        if data.text_cols is not None:
            unknown = [c for c in used if c not in data.text_cols]
            if unknown:
                fail(
                    "data.text_template",
                    f"data.text_template uses column(s) {', '.join(unknown)} "
                    f"not listed in data.text_cols ({', '.join(data.text_cols)})",
                )
    if data.format not in ("auto", "template") and data.text_template:
        fail("data.text_template", "data.text_template is only used with format 'template'")
    positive = {
        "train.batch_size": train.batch_size,
        "train.gradient_accumulation_steps": train.gradient_accumulation_steps,
        "train.max_length": train.max_length,
        "train.logging_steps": train.logging_steps,
        "train.save_steps": train.save_steps,
        "lora.r": lora.r,
        "lora.alpha": lora.alpha,
    }
    for key, value in positive.items():
        if value <= 0:
            fail(key, f"{key} must be positive (got {value})")
    for key, optional in {
        "train.eval_batch_size": train.eval_batch_size,
        "train.eval_steps": train.eval_steps,
        "train.save_total_limit": train.save_total_limit,
        "train.num_threads": train.num_threads,
        "lora.last_layers": lora.last_layers,
    }.items():
        if optional is not None and optional <= 0:
            fail(key, f"{key} must be positive or null (got {optional})")
    if train.max_steps <= 0 and train.epochs <= 0:
        fail("train.epochs", "set train.epochs > 0 or train.max_steps > 0")
    if train.learning_rate <= 0:
        fail("train.learning_rate", "train.learning_rate must be positive")
    if not 0.0 <= train.warmup_ratio < 1.0:
        fail("train.warmup_ratio", "train.warmup_ratio must be a fraction in [0, 1)")
    if not 0.0 <= lora.dropout < 1.0:
        fail("lora.dropout", "lora.dropout must be a fraction in [0, 1)")
    if config.output.dir:
        problem = output_dir_problem(config.output.dir)
        if problem:
            fail("output.dir", f"output.dir {problem} (got {shown(config.output.dir)})")
    if isinstance(lora.target_modules, tuple) and not lora.target_modules:
        fail("lora.target_modules", "lora.target_modules must not be empty")
    if isinstance(lora.target_modules, str) and lora.target_modules not in ("auto", "all-linear"):
        fail(
            "lora.target_modules",
            "lora.target_modules must be auto, all-linear or a list of module names",
        )


def output_dir_problem(value: str) -> str | None:
    """Why `output.dir` could leave the workspace, or None. The rule: a relative path without
    `..`, naming a folder below the workspace root (checked again against symlinks in paths)."""
    if any(ord(c) < 32 for c in value):
        return "must not contain control characters"
    path = PureWindowsPath(value)  # splits on / and \\ alike, and knows drives
    if value.startswith(("/", "\\", "~")) or path.drive or path.root:
        return "must be relative to the workspace, not an absolute path"
    if ".." in path.parts:
        return "must stay inside the workspace: '..' is not allowed"
    if not path.parts:
        return "must name a folder inside the workspace, not the workspace itself"
    return None
