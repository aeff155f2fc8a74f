"""Reading a YAML config strictly: UTF-8 only, duplicate keys refused, lines of keys (no torch).

PyYAML keeps the last of two equal keys without a word, so a second `learning_rate:` further down
silently wins; `StrictLoader` makes that an error naming both lines instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlFileError(ValueError):
    """The file cannot be read as YAML text; `line` is 1-based or None."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


class StrictLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:  # `<<: *base` entries may be overridden on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first.get(key)
            except TypeError:  # unhashable: the base class reports it
                continue
            if seen is not None:
                raise ConstructorError(
                    problem=f"duplicate key {key!r} (first given on line {seen})",
                    problem_mark=key_node.start_mark,
                )
            first[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_text(path: Path) -> str:
    """The file's text; raises `YamlFileError` when it is missing, unreadable or not UTF-8."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise YamlFileError(f"config file not found: {path}") from None
    except OSError as exc:
        raise YamlFileError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YamlFileError(
            f"config file is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8",
            line=line,
        ) from None


def load(text: str) -> tuple[Any, dict[str, int]]:
    """The YAML data and the lines of its keys; raises `YamlFileError` naming the line."""
    try:
        return yaml.load(text, Loader=StrictLoader), key_lines(text)  # StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise YamlFileError(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            line=mark.line + 1 if mark else None,
        ) from None
    except RecursionError:
        raise YamlFileError("not valid YAML: nested too deeply") from None


def key_lines(text: str) -> dict[str, int]:
    """Map `section` and `section.key` to their 1-based line numbers in YAML source text."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key_node, value_node in node.value:
        section = str(key_node.value)
        lines[section] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.MappingNode):
            for sub_key, _ in value_node.value:
                lines[f"{section}.{sub_key.value}"] = sub_key.start_mark.line + 1
    return lines
