"""The app's adapters (`FTK_ADAPTER`): how `ftk deploy` writes them and every engine reads them.

The value is `[NAME=]PATH`, comma-separated. NAME is the model name a client asks for (`ftk chat
--model NAME`). `ftk deploy` decides it once, as the run id, and always writes `NAME=PATH`
(`adapter_value`), so no server derives it again. A PATH without a name (a user's own `--adapter
PATH`, or an app deployed by an older ftk) is named by `adapter_name`: the run id of
`runs/<run>/adapter`, else the folder's own name. The transformers engine, the vLLM app and the
CLI's reading of a deployed app all go through `parse_adapter`, the one copy of this rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePath, PurePosixPath
from typing import Final

from contract.layout import ADAPTER_DIR

# A model name clients may send; a NAME= prefix that does not match is part of the path.
NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def adapter_name(path: PurePath) -> str:
    """The name of an adapter given by its folder alone: the run id for `runs/<run>/adapter`,
    else the folder's own name."""
    if path.name == ADAPTER_DIR and path.parent.name:
        return path.parent.name
    return path.name or ADAPTER_DIR


def split_name(spec: str) -> tuple[str | None, str]:
    """(NAME or None, PATH) of one `[NAME=]PATH` item; a NAME= prefix that is not a model name
    is part of the path."""
    name, sep, rest = spec.partition("=")
    if sep and NAME_PATTERN.fullmatch(name) and rest:
        return name, rest
    return None, spec


def parse_adapter(spec: str) -> tuple[str, str]:
    """(name, path) of one `[NAME=]PATH` item on the app (a POSIX path); without a NAME, the
    path names it (`adapter_name`)."""
    name, path = split_name(spec)
    return name or adapter_name(PurePosixPath(path)), path


def split_adapters(value: str | None) -> list[str]:
    """The `[NAME=]PATH` items of an `FTK_ADAPTER` value (blank items dropped)."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def adapter_names(value: str | None) -> tuple[str, ...]:
    """The model names an `FTK_ADAPTER` value serves, in order."""
    return tuple(parse_adapter(item)[0] for item in split_adapters(value))


def adapter_value(adapters: Iterable[tuple[str, str]]) -> str | None:
    """`FTK_ADAPTER` for (name, path) pairs, each named explicitly; None for no adapter."""
    items = []
    for name, path in adapters:
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(f"adapter name {name!r} is not a model name ({NAME_PATTERN.pattern})")
        items.append(f"{name}={path}")
    return ",".join(items) or None
