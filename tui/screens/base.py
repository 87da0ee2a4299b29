"""What every view shares: the status bar, the footer, tables that fit the terminal, and
redrawing when the picture changed."""

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
from tui.widgets.columns import Column, fit_columns
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
