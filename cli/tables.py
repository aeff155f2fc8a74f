"""Tables for people, as `kubectl get` draws them: whole at the terminal's width.

Every verb that prints a table builds it here. A table's identifying columns (run, execution,
sweep point, check) and its status are `required`: they are never dropped and never cut. The
other columns have a priority; when the terminal is too narrow, the least important go first
(and every one after it), and a line under the table names them and says that `--wide` shows
all. A column marked `wrap` gives up width by wrapping its values (between words, or anywhere
with `wrap="fold"`), so a value is never cut to `…`.

`--wide`, or output that is not a terminal (a pipe, a file) without a `COLUMNS` setting, prints
every column at its full width with the full form of each `Compact` value (an execution's whole
name, an absolute time). `COLUMNS` (or the terminal's size) is the width otherwise.

Rich does the drawing; this module only decides which columns fit and how wide each is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

F = TypeVar("F", bound=Callable[..., Any])

GAP = 2  # spaces between two columns (box=None, padding 1 on each side, no edge padding)
_WIDE_KEY = "ftk.tables.wide"


@dataclass(frozen=True)
class Compact:
    """A value with a short form for a fitted table and a full one for `--wide` and pipes."""

    short: str
    full: str


Cell = str | Compact


@dataclass(frozen=True)
class Column:
    """`required`: never dropped, never cut. `priority`: lower stays longer (ties: leftmost).
    `wrap`: False keeps the column at its full width; "words" or "fold" lets it wrap."""

    header: str
    required: bool = False
    priority: int = 1
    wrap: Literal[False, "words", "fold"] = False
    justify: Literal["left", "right"] = "left"


@dataclass
class Table:
    """Columns and rows; `render` fits them to the console."""

    columns: Sequence[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    show_header: bool = True

    def add_row(self, *cells: Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(list(cells))

    def render(self, console: Console, *, wide: bool | None = None) -> list[str]:
        """Print the table (and, when columns were left out, the line that names them);
        returns the headers left out."""
        full = is_wide(console) if wide is None else wide
        texts = [[_text(_pick(c, full)) for c in row] for row in self.rows]
        natural = [
            _natural(col, [r[i] for r in texts], self.show_header)
            for i, col in enumerate(self.columns)
        ]
        if full:
            keep, widths = list(range(len(self.columns))), natural
        else:
            minimum = [
                _minimum(col, [r[i] for r in texts], natural[i], self.show_header)
                for i, col in enumerate(self.columns)
            ]
            keep, widths = fit(self.columns, natural, minimum, console.width)
        _draw(
            console,
            [self.columns[i] for i in keep],
            [[r[i] for i in keep] for r in texts],
            widths,
            show_header=self.show_header,
        )
        left_out = [c.header for i, c in enumerate(self.columns) if i not in keep]
        if left_out:
            console.print(
                f"[dim]{', '.join(left_out)} left out at {console.width} columns; "
                "--wide shows all[/]",
                highlight=False,
            )
        return left_out


def fit(
    columns: Sequence[Column], natural: Sequence[int], minimum: Sequence[int], width: int
) -> tuple[list[int], list[int]]:
    """Which columns to show at `width` (their indexes), and how wide each of them is (content,
    without the gaps).

    The required columns come first, at full width (wrapping ones give up width only when the
    required columns alone do not fit). The others join by priority while their least width fits
    (the first that does not is dropped with every one after it). Width left over goes to the
    wrapping columns, left to right, up to their full width."""
    keep = [i for i, c in enumerate(columns) if c.required]
    widths = [natural[i] if columns[i].wrap is False else minimum[i] for i in range(len(columns))]
    used = sum(widths[i] for i in keep) + GAP * max(len(keep) - 1, 0)
    spare = width - used
    first = [i for i in keep if columns[i].wrap is not False]
    if used + sum(natural[i] - widths[i] for i in first) <= width:
        optional = [i for i, c in enumerate(columns) if not c.required]
        optional.sort(key=lambda i: (columns[i].priority, i))
        spare -= sum(natural[i] - widths[i] for i in first)
        for i in first:
            widths[i] = natural[i]
        for i in optional:
            need = widths[i] + (GAP if keep else 0)
            if need > spare:
                break
            keep.append(i)
            spare -= need
    keep.sort()
    for i in keep:
        grow = min(natural[i] - widths[i], max(spare, 0))
        widths[i] += grow
        spare -= grow
    return keep, [widths[i] for i in keep]


def is_wide(console: Console) -> bool:
    """`--wide` was given, or the output is not a terminal and no COLUMNS asks for a width."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(_WIDE_KEY):
        return True
    return not console.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit()


def _mark_wide(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[_WIDE_KEY] = True
    return value


def wide_option() -> Callable[[F], F]:
    """`--wide`: every column, full values, whatever the terminal's width (not passed on)."""
    return click.option(
        "--wide",
        is_flag=True,
        expose_value=False,
        callback=_mark_wide,
        help="Show every column with full values, whatever the terminal's width.",
    )


# -- compact forms ----------------------------------------------------------------------------


def when(value: datetime | None, now: datetime | None = None) -> Cell:
    """'3m ago' within a week (the date beyond), and the absolute local time in full."""
    if value is None:
        return "-"
    full = value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    if seconds < 0:
        return Compact(value.astimezone().strftime("%Y-%m-%d"), full)
    for unit, size, below in (("s", 1, 60), ("m", 60, 60), ("h", 3600, 24), ("d", 86400, 7)):
        if seconds < size * below:
            return Compact(f"{seconds // size}{unit} ago", full)
    return Compact(value.astimezone().strftime("%Y-%m-%d"), full)


def execution_name(name: str, run_id: str | None) -> Cell:
    """An execution named after its run (`RUN-<time>-<hex>`) shows only its last part ('…0a3c')
    next to the run id; any other name is shown whole."""
    if run_id and name.startswith(f"{run_id}-"):
        return Compact("…" + name.rsplit("-", 1)[-1], name)
    return name


def number(value: float | int | None, digits: int = 4) -> str:
    """A fixed number of decimals ('-' for none): aligned when the column is right-justified."""
    return "-" if value is None else f"{value:.{digits}f}"


# -- drawing ----------------------------------------------------------------------------------


def _pick(cell: Cell, full: bool) -> str:
    if isinstance(cell, Compact):
        return cell.full if full else cell.short
    return cell


def _text(markup: str) -> Text:
    from rich.text import Text

    return Text.from_markup(markup)


def _natural(column: Column, cells: list[Text], header: bool) -> int:
    from rich.cells import cell_len

    lines = [line for t in cells for line in t.plain.splitlines()] or [""]
    return max(cell_len(column.header) if header else 1, *(cell_len(line) for line in lines))


def _minimum(column: Column, cells: list[Text], natural: int, header: bool) -> int:
    """The least width a wrapping column takes: its longest word ("words") or a few characters
    ("fold": long words are broken), never less than its header."""
    from rich.cells import cell_len

    least = cell_len(column.header) if header else 1
    if column.wrap is False:
        return natural
    if column.wrap == "fold":
        return min(natural, max(least, 12))
    words = [w for t in cells for w in t.plain.split()] or [""]
    return min(natural, max(least, *(cell_len(w) for w in words)))


def _draw(
    console: Console,
    columns: list[Column],
    rows: list[list[Text]],
    widths: list[int],
    *,
    show_header: bool,
) -> None:
    from rich.table import Table as RichTable

    total = sum(widths) + GAP * (len(widths) - 1)
    table = RichTable(
        box=None,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
        show_header=show_header,
        width=total or None,
    )
    for column, width in zip(columns, widths, strict=True):
        table.add_column(
            column.header,
            width=width,
            justify=column.justify,
            no_wrap=column.wrap is False,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*row)
    console.print(table, highlight=False)
