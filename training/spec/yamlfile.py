"""Reading a YAML config strictly: UTF-8 only, duplicate keys refused, lines of keys (no torch).

PyYAML keeps the last of two equal keys without a word, so a second `learning_rate:` further down
silently wins; `StrictLoader` makes that an error naming both lines instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from training.spec.errors import UserError

MERGE_TAG = "tag:yaml.org,2002:merge"
INT_TAG = "tag:yaml.org,2002:int"
MAX_INT_CHARS = 64  # far beyond any key's range; Python refuses over 4300 digits with a traceback
MAX_VALUES = 10_000  # values a document may hold once its aliases are expanded (a config: ~100)


class YamlFileError(UserError, ValueError):
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

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if len(str(node.value)) > MAX_INT_CHARS:
            raise ConstructorError(
                problem=f"an integer of {len(str(node.value))} characters is too large",
                problem_mark=node.start_mark,
            )
        return super().construct_yaml_int(node)


StrictLoader.add_constructor(INT_TAG, StrictLoader.construct_yaml_int)


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand to more than MAX_VALUES values (a "billion
    laughs" of a few hundred bytes would otherwise be echoed in full by any error about it)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = MAX_VALUES + 1  # an alias to a node being counted: it holds itself
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        if total > MAX_VALUES:
            raise YamlFileError(
                f"its aliases (`*name`) expand to more than {MAX_VALUES} values; write them out",
                line=node.start_mark.line + 1,
            )
        sizes[id(node)] = total
        return total

    size(root)


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
        loader = StrictLoader(text)  # a SafeLoader
        try:
            node = loader.get_single_node()  # as yaml.load does, with a size check between
            if node is not None:
                _check_expansion(node)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
        return data, key_lines(text)
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
