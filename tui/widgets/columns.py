"""Table columns that fit the terminal: each column has the width it needs at 80 columns, some
take a share of what a wider terminal adds, and some appear only once there is room for them;
and the cells written to them (`Cell`), which keep what they drew."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.text import Text
from textual.widgets import DataTable

CELL_PADDING = 2
"""DataTable's cell padding, one column each side."""
SCROLLBAR = 2
"""Kept free for the vertical scrollbar, so columns do not change when rows overflow."""


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    width: int
    """What it needs on an 80-column terminal."""
    grow: int = 0
    """Its share of the width a wider terminal adds."""
    wide: int = 0
    """Shown only on terminals at least this wide (0: always)."""
    most: int = 0
    """It grows to this width at most (0: no limit)."""


def fit(columns: Sequence[Column], width: int) -> list[tuple[Column, int]]:
    """The columns shown in `width` terminal columns, with their widths: the growing ones share
    what is left over in proportion to `grow`, up to their `most`."""
    shown = [c for c in columns if c.wide <= width]
    widths = [c.width for c in shown]
    spare = width - SCROLLBAR - sum(w + CELL_PADDING for w in widths)
    growing = [i for i, c in enumerate(shown) if c.grow]
    while spare > 0 and growing:
        shares = sum(shown[i].grow for i in growing)
        given = 0
        for i in growing:
            extra = max(1, spare * shown[i].grow // shares)
            if shown[i].most:
                extra = min(extra, shown[i].most - widths[i])
            extra = min(extra, spare - given)
            widths[i] += extra
            given += extra
        spare -= given
        growing = [i for i in growing if not shown[i].most or widths[i] < shown[i].most]
    return list(zip(shown, widths, strict=True))


def fit_columns(table: DataTable[Any], columns: Sequence[Column], width: int) -> bool:
    """Give `table` the columns that fit `width`; True when they changed (the rows are then
    gone: the caller draws them again)."""
    sizes = [(c.label, w) for c, w in fit(columns, width)]
    if [(str(c.key.value), c.width) for c in table.ordered_columns] == sizes:
        return False
    table.clear(columns=True)
    for label, size in sizes:
        table.add_column(label, width=size, key=label)
    return True


def cells(table: DataTable[Any], by_label: Mapping[str, Text]) -> list[Text]:
    """A row's cells for the columns `table` shows now, in order; a cell cut to its column ends
    in "…" (the line below the table has the highlighted row in full)."""
    out = [by_label[str(c.key.value)] for c in table.ordered_columns]
    for cell in out:
        cell.no_wrap, cell.overflow = True, "ellipsis"
    return out


class Cell(Text):
    """A table cell that keeps what it drew, for as long as the options are the same: a
    DataTable draws every visible cell again after any write to it (another order, one new
    figure), though most cells have not changed. Made from a caller's text when it is written
    to a table (`Cell.of`) and not changed after (a change would not be drawn)."""

    __slots__ = ("_drawn",)

    def __init__(self, text: Text) -> None:
        super().__init__(
            text.plain,
            text.style,
            justify=text.justify,
            overflow=text.overflow,
            no_wrap=text.no_wrap,
            end=text.end,
            tab_size=text.tab_size,
            spans=list(text.spans),
        )
        self._drawn: tuple[tuple[object, ...], list[Segment]] | None = None

    @classmethod
    def of(cls, text: Text) -> Cell:
        return text if isinstance(text, Cell) else cls(text)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterable[Segment]:
        key = (options.max_width, options.justify, options.overflow, options.no_wrap)
        if self._drawn is None or self._drawn[0] != key:
            self._drawn = (key, list(super().__rich_console__(console, options)))
        return self._drawn[1]
