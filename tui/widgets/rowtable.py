"""A table drawn a row at a time (`RowTable`): each row is one line of the terminal, drawn once
from its cells and kept until that row, the columns or the look change.

Why: a DataTable draws every visible cell again after any write to it or any sort (its line
caches are keyed on a count of its updates), each cell through Rich's Padding and Styled: for
the district portfolio, every visible cell at every sort key (bench/README.md, "After the
in-place re-sort" and "After the portfolio's own table"). Here a row is drawn once per change,
as one Strip: another order only puts the kept lines in another order, a school with a new
figure draws its own row again, a cursor move the row it leaves and the one it reaches; only
the screen lines that show another line are refreshed.

The contract:

- `RowTable(columns)`: the columns (`Column`) fit the terminal's width as `fit` gives them, now
  and after a resize: those wider than the terminal allows are hidden, the growing ones share
  what is left. Cells are kept by column label, so a resize draws the rows again without the
  caller's help.
- `show(rows)`: the rows, each a key and its cells (Rich Text by column label; a label without
  a cell is blank), in this order. A row whose cells draw the same as before (`same_text`)
  keeps its line. The cursor stays on its row's key while that row is shown (else on the same
  position) and is kept in view. The texts given are not changed, and not to be changed after.
- One header line of labels; the rows scroll under it. A cell is cut to its column's width with
  "…" and has one space of padding each side, as in a DataTable. Cells are left-aligned.
- Keys: up, down, pageup, pagedown, home, end move the cursor; enter posts `Selected`. A click
  on a row moves the cursor there, a click on the row under the cursor posts `Selected`, a
  click on a label posts `HeaderSelected`. `Highlighted` is posted when the cursor comes to
  another key (a key press, a click, the row under it gone).
- The look: component classes `row-table--header` and `row-table--cursor`, styled as
  DataTable's header and cursor (DEFAULT_CSS); under the cursor, the cursor's colour takes over
  the cells' own colours, their backgrounds stay (DataTable's default priorities).

Not done (none is needed by its users): a hover highlight, a cell or column cursor, rows of
more than one line, horizontal scrolling (the columns fit), zebra stripes.

Used by the district portfolio (tui/screens/district.py, "schools"): 50 rows re-ordered by
every sort key and redrawn every school's KPI minute, the case bench/district.py times. The
other tables (the rooms overview, the alarms, the district's alarm list) are still DataTables
kept with `show_rows` (tui/screens/base.py): none is re-ordered by a key, and none was measured
too slow; moving one here is moving its `show_rows` calls to `show`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.widgets.columns import CELL_PADDING, Column, fit
from tui.widgets.lines import same_text

BLANK = Text()


class _RowMessage(Message):
    """What a RowTable posts: the table (`control`) and a row's key or a column's label."""

    def __init__(self, table: RowTable, key: str) -> None:
        self.table = table
        self.key = key
        super().__init__()

    @property
    def control(self) -> RowTable:
        return self.table


class RowTable(ScrollView, can_focus=True):
    """Rows of cells under a header line, one line a row, with a row cursor (module docstring)."""

    DEFAULT_CSS = """
    RowTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        overflow-x: hidden;
        overflow-y: auto;

        &:focus {
            background-tint: $foreground 5%;
            & > .row-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .row-table--header {
                background-tint: $foreground 5%;
            }
        }

        & > .row-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .row-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }

        & > .row-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"row-table--header", "row-table--cursor"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Select", show=False),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First", show=False),
        Binding("end,ctrl+end", "last", "Last", show=False),
    ]

    class Highlighted(_RowMessage):
        """The cursor came to another row (`key`)."""

    class Selected(_RowMessage):
        """Enter on a row (`key`), or a click on the row under the cursor."""

    class HeaderSelected(_RowMessage):
        """A click on a column's label (`label`; also `key`)."""

        @property
        def label(self) -> str:
            return self.key

    def __init__(
        self, columns: Sequence[Column], *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._columns = tuple(columns)
        self._fitted: tuple[int, list[tuple[Column, int]]] = (-1, [])
        self._rows: dict[str, Mapping[str, Text]] = {}
        """The cells of each row by key, in the order shown."""
        self._order: list[str] = []
        self._cursor = 0
        self._lines: dict[tuple[str, bool], Strip] = {}
        """Each row drawn, by key and whether under the cursor, for `_look`."""
        self._header: Strip | None = None
        self._look: tuple[object, ...] = ()

    # -- what it shows ---------------------------------------------------------------------------

    @property
    def columns(self) -> list[tuple[Column, int]]:
        """The columns shown and their widths, for the terminal's width now."""
        width = self.app.size.width
        if self._fitted[0] != width:
            self._fitted = (width, fit(self._columns, width))
        return self._fitted[1]

    @property
    def labels(self) -> list[str]:
        """The labels of the columns shown, left to right."""
        return [column.label for column, _ in self.columns]

    @property
    def keys(self) -> list[str]:
        """The rows' keys, top to bottom."""
        return list(self._order)

    def cells(self, key: str) -> Mapping[str, Text]:
        """The cells of a row, by column label."""
        return self._rows[key]

    @property
    def cursor_row(self) -> int:
        """The cursor's position (0: the first row)."""
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (None: no rows)."""
        return self._order[self._cursor] if self._order else None

    def show(self, rows: Sequence[tuple[str, Mapping[str, Text]]]) -> None:
        """Show `rows` in this order, drawing again only those whose cells changed."""
        before = self._visible()
        current = self.cursor_key
        kept: dict[str, Mapping[str, Text]] = {}
        changed: set[str] = set()
        for key, cells in rows:
            old = self._rows.get(key)
            if old is not None and _same_cells(old, cells):
                kept[key] = old
            else:
                kept[key] = dict(cells)
                changed.add(key)
                self._forget(key)
        for key in self._rows.keys() - kept.keys():
            self._forget(key)
        self._rows = kept
        self._order = list(kept)
        if current in kept:
            self._cursor = self._order.index(current)
        else:
            self._cursor = max(0, min(self._cursor, len(self._order) - 1))
        self._set_virtual_size()
        after = self._visible()
        for y, (was, now) in enumerate(zip(before, after, strict=True), start=1):
            if was != now or (now is not None and now[0] in changed):
                self._refresh_screen_line(y)
        self._scroll_to_cursor()
        if self.cursor_key not in (current, None):
            self.post_message(self.Highlighted(self, self.cursor_key))

    def move_cursor(self, row: int) -> None:
        """Put the cursor on the row at `row` (clamped to the rows there are), in view."""
        if not self._order:
            return
        row = max(0, min(row, len(self._order) - 1))
        if row != self._cursor:
            old = self._cursor
            self._cursor = row
            self._refresh_row(old)
            self._refresh_row(row)
            self.post_message(self.Highlighted(self, self._order[row]))
        self._scroll_to_cursor()

    # -- keys and the mouse ----------------------------------------------------------------------

    def action_cursor(self, rows: int) -> None:
        self.move_cursor(self._cursor + rows)

    def action_page(self, pages: int) -> None:
        self.move_cursor(self._cursor + pages * self._page())

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._order) - 1)

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            label = self.label_at(offset.x)
            if label is not None:
                self.post_message(self.HeaderSelected(self, label))
            return
        row = self.scroll_offset.y + offset.y - 1
        if row >= len(self._order):
            return
        event.stop()
        if row == self._cursor:
            self.action_select()
        else:
            self.move_cursor(row)

    def label_at(self, x: int) -> str | None:
        """The label of the column at `x` (None: right of the last column)."""
        edge = 0
        for column, width in self.columns:
            edge += width + CELL_PADDING
            if x < edge:
                return column.label
        return None

    # -- drawing ---------------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        look = (
            tuple((column.label, width) for column, width in self.columns),
            self.size.width,
            self.rich_style,
            self.get_component_rich_style("row-table--header"),
            self.get_component_rich_style("row-table--cursor"),
        )
        if look != self._look:
            self._look = look
            self._lines.clear()
            self._header = None
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        if y == 0:
            if self._header is None:
                labels = [Text(column.label) for column, _ in self.columns]
                style = self.rich_style + self.get_component_rich_style("row-table--header")
                self._header = self._draw(labels, style)
            return self._header
        row = self.scroll_offset.y + y - 1
        if row >= len(self._order):
            return Strip.blank(self.size.width, self.rich_style)
        key = self._order[row]
        cursor = row == self._cursor
        line = self._lines.get((key, cursor))
        if line is None:
            line = self._lines[key, cursor] = self.draw_row(self._rows[key], cursor=cursor)
        return line

    def draw_row(self, cells: Mapping[str, Text], *, cursor: bool) -> Strip:
        """A row as one line (called once a change of the row or of the look, then kept)."""
        texts = [cells.get(column.label, BLANK) for column, _ in self.columns]
        if not cursor:
            return self._draw(texts, self.rich_style)
        style = self.get_component_rich_style("row-table--cursor")
        return self._draw(texts, self.rich_style + style, Style.from_color(style.color))

    def _draw(self, texts: Sequence[Text], style: Style, over: Style | None = None) -> Strip:
        """Cells side by side, each cut to its column with "…" and padded; `style` beneath,
        `over` on top."""
        line = Text()
        for (_, width), text in zip(self.columns, texts, strict=True):
            cell = text.copy()
            cell.truncate(width, overflow="ellipsis")
            line.append(" ")
            line.append_text(cell)
            line.append(" " * (width - cell.cell_len + CELL_PADDING - 1))
        segments = Segment.apply_style(line.render(self.app.console), style, over)
        return Strip(segments).extend_cell_length(self.size.width, style).simplify()

    # -- where rows are on screen ----------------------------------------------------------------

    def on_mount(self) -> None:
        self._set_virtual_size()

    def on_resize(self) -> None:
        self._set_virtual_size()

    def _set_virtual_size(self) -> None:
        """The header and the rows; as wide as the columns (laid out again when either
        changes)."""
        width = sum(width + CELL_PADDING for _, width in self.columns)
        self.virtual_size = Size(width, len(self._order) + 1)

    def _page(self) -> int:
        """How many rows the screen shows below the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def _visible(self) -> list[tuple[str, bool] | None]:
        """What each screen line below the header shows: a row's key and whether it is under
        the cursor (None: no row)."""
        top = self.scroll_offset.y
        out: list[tuple[str, bool] | None] = []
        for row in range(top, top + max(0, self.scrollable_content_region.height - 1)):
            out.append((self._order[row], row == self._cursor) if row < len(self._order) else None)
        return out

    def _refresh_screen_line(self, y: int) -> None:
        self.refresh(Region(0, y, self.size.width, 1))

    def _refresh_row(self, row: int) -> None:
        y = row - self.scroll_offset.y + 1
        if 1 <= y < self.scrollable_content_region.height:
            self._refresh_screen_line(y)

    def _scroll_to_cursor(self) -> None:
        top, page = self.scroll_offset.y, self._page()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False)

    def _forget(self, key: str) -> None:
        self._lines.pop((key, False), None)
        self._lines.pop((key, True), None)


def _same_cells(shown: Mapping[str, Text], new: Mapping[str, Text]) -> bool:
    return shown.keys() == new.keys() and all(same_text(shown[k], new[k]) for k in shown)
