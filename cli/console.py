"""The CLI's two output streams: human text to stderr (Rich), data (ids, --json) to stdout."""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from rich.console import Console


def err_console(file: IO[Any] | None = None) -> Console:
    """Rich console on stderr (or `file`), for progress, tables and messages meant for people."""
    return Console(file=file or sys.stderr, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout, for scripts."""
    click_echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def click_echo(text: str) -> None:
    import click

    click.echo(text)
