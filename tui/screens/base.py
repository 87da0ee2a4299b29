"""What every view shares: the status bar, the footer, tables that fit the terminal, and
redrawing when the picture changed, writing only what differs from the screen."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from campus.wire import Kind
from tui.messages import StateChanged
from tui.state import SiteState
from tui.widgets.columns import Cell, Column, cells, fit_columns
from tui.widgets.lines import same_text
from tui.widgets.statusbar import StatusBar

if TYPE_CHECKING:
    from tui.app import CampusApp

ALL = frozenset(Kind)


class SiteScreen(Screen[None]):
    """A view of the site. Subclasses draw in `redraw(kinds)`; they are told what changed."""

    def __init__(self) -> None:
        super().__init__()
        self._columns: dict[str, Sequence[Column]] = {}

    def table(self, table_id: str, columns: Sequence[Column], **options: Any) -> DataTable[Text]:
        """A table (rows selected whole) whose columns fit the terminal, now and after each
        resize; its rows are drawn with `columns.cells`."""
        table: DataTable[Text] = DataTable(id=table_id, cursor_type="row", **options)
        self._columns[table_id] = columns
        fit_columns(table, columns, self.app.size.width)
        return table

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        changed = [
            fit_columns(self.query_one(f"#{table_id}", DataTable), columns, width)
            for table_id, columns in self._columns.items()
        ]
        if any(changed):
            self._redraw(ALL)

    @property
    def campus_app(self) -> CampusApp:
        return cast("CampusApp", self.app)

    @property
    def state(self) -> SiteState:
        return self.campus_app.state

    def on_screen_resume(self) -> None:
        self._fit(self.app.size.width)
        self._redraw(ALL)

    def on_state_changed(self, message: StateChanged) -> None:
        self._redraw(message.kinds)

    def _redraw(self, kinds: frozenset[Kind]) -> None:
        if not self.is_mounted:
            return
        for bar in self.query(StatusBar):
            bar.update_status()
        self.redraw(kinds)

    def redraw(self, kinds: frozenset[Kind]) -> None:
        """Bring the view up to date with `self.state` (only `kinds` changed)."""


def footer() -> Footer:
    """The keys that work here; compact so a view's keys fit in 80 columns."""
    return Footer(compact=True, show_command_palette=False)


def selected_key(table: DataTable[Any]) -> str | None:
    """The key of the row under the table's cursor (None: an empty table)."""
    if not table.row_count:
        return None
    key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
    return key.value


def show_rows(table: DataTable[Text], rows: Sequence[tuple[str, dict[str, Text]]]) -> None:
    """Have `table` show `rows` (each a row key and its cells by column label) in this order,
    writing only what differs from what it shows: the cells whose text or style changed, the
    rows that went or came. Another order (another sort, a new figure in the sort column, a new
    alarm above others) moves the rows where they are (`DataTable.sort`): no cell is written
    or measured again, the table is not cleared. The cursor stays on its row (by key) while
    that row is shown.

    A DataTable draws every visible line again after any write; a clear and refill also
    measures every cell again and resets the cursor and the scroll (bench/README.md, "After
    the in-place re-sort")."""
    current = selected_key(table)
    wanted = {key: cells(table, by_label) for key, by_label in rows}
    for row_key in [key for key in table.rows if key.value not in wanted]:
        table.remove_row(row_key)
    columns = [column.key for column in table.ordered_columns]
    for key, row in wanted.items():
        if key not in table.rows:
            table.add_row(*map(Cell.of, row), key=key)
            continue
        for column, cell in zip(columns, row, strict=True):
            if not same_text(table.get_cell(key, column), cell):
                table.update_cell(key, column, Cell.of(cell))
    order = list(wanted)
    if [row.key.value for row in table.ordered_rows] != order:
        _reorder(table, order)
    if current in wanted and table.get_row_index(current) != table.cursor_row:
        table.move_cursor(row=table.get_row_index(current), animate=False)


def _reorder(table: DataTable[Text], order: list[str]) -> None:
    """Put the rows of `table` (those of `order`, no others) in that order. DataTable.sort's key
    sees a row's cells, not its key, so a row is known by its first cell (an object of its
    own); should two rows share one, the table is cleared and refilled."""
    first = table.ordered_columns[0].key
    position = {id(table.get_cell(key, first)): index for index, key in enumerate(order)}
    if len(position) == len(order):
        table.sort(first, key=lambda cell: position[id(cell)])
        return
    kept = {key: table.get_row(key) for key in order}
    table.clear()
    for key, row in kept.items():
        table.add_row(*row, key=key)
