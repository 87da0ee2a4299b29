"""`RowTable` (tui/widgets/rowtable.py) on its own, driven by Textual's pilot: rows in the order
asked with the cursor on its key; a row drawn once per change (another order draws nothing, a
changed row only itself, a cursor move the two rows it touches); cells cut to their column with
"…"; the wide columns hidden on a narrow terminal and shown after a resize; the cursor keys,
scrolling under the header, enter and clicks (a row, the row under the cursor, a label)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.message import Message
from textual.strip import Strip

from tests.support.aio import run_async
from tui.widgets.columns import CELL_PADDING, Column
from tui.widgets.rowtable import RowTable

pytestmark = pytest.mark.tui
COLUMNS = [Column("name", 10), Column("figure", 6), Column("note", 12, wide=100)]


class Table(App[None]):
    """One table; a click on a label sorts by that column (as the district view does)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, int] = {}
        self.by = "figure"
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield RowTable(COLUMNS, id="table")

    @property
    def table(self) -> RowTable:
        return self.query_one(RowTable)

    def draw(self) -> None:
        """The rows by `by`: the highest figure first, or by name."""
        if self.by == "figure":
            ordered = sorted(self.values, key=lambda k: (-self.values[k], k))
        else:
            ordered = sorted(self.values)
        self.table.show([(key, cells(key, self.values[key])) for key in ordered])

    def on_row_table_highlighted(self, message: RowTable.Highlighted) -> None:
        self.messages.append(message)

    def on_row_table_selected(self, message: RowTable.Selected) -> None:
        self.messages.append(message)

    def on_row_table_header_selected(self, message: RowTable.HeaderSelected) -> None:
        self.messages.append(message)
        self.by = message.label
        self.draw()


def cells(key: str, value: int) -> dict[str, Text]:
    return {
        "name": Text(key, style="red" if value < 0 else ""),
        "figure": Text(str(value)),
        "note": Text(f"note of {key}"),
    }


def counting_draws(table: RowTable) -> list[tuple[str, bool]]:
    """Each row drawn from here on: its name and whether under the cursor."""
    drawn: list[tuple[str, bool]] = []
    draw = table.draw_row

    def counted(row: Mapping[str, Text], *, cursor: bool) -> Strip:
        drawn.append((row["name"].plain, cursor))
        return draw(row, cursor=cursor)

    table.draw_row = counted  # type: ignore[method-assign]
    return drawn


def screen_lines(app: App[None]) -> list[str]:
    """The table's lines as on the terminal (the header first)."""
    table = app.query_one(RowTable)
    return [strip.text.rstrip() for strip in table.render_lines(table.size.region)]


def kinds(app: Table) -> list[tuple[str, str]]:
    out = []
    for message in app.messages:
        if isinstance(message, RowTable.HeaderSelected):
            out.append(("header", message.label))
        elif isinstance(message, RowTable.Selected | RowTable.Highlighted):
            out.append((type(message).__name__, message.key))
    return out


@run_async
async def test_another_order_keeps_the_cursor_on_its_row_and_draws_nothing() -> None:
    app = Table()
    async with app.run_test(size=(80, 12)) as pilot:
        app.values = {"a": 4, "b": 3, "c": 2, "d": 1}
        app.draw()
        await pilot.pause()
        assert app.table.keys == ["a", "b", "c", "d"]
        app.table.move_cursor(1)
        await pilot.pause()
        assert app.table.cursor_key == "b"
        drawn = counting_draws(app.table)
        app.messages.clear()

        app.by = "name"
        app.values = {"a": 1, "b": 2, "c": 3, "d": 4}  # new figures: every row changes
        app.draw()
        await pilot.pause()
        assert sorted(drawn) == [("a", False), ("b", True), ("c", False), ("d", False)]
        drawn.clear()
        app.by = "figure"  # another order, the same cells
        app.draw()
        await pilot.pause()
        assert app.table.keys == ["d", "c", "b", "a"]
        assert app.table.cursor_key == "b", "the cursor stays on its row"
        assert app.table.cursor_row == 2
        assert drawn == [], "another order only puts the rows' lines in another order"
        assert screen_lines(app)[1:5] == [
            " d           4",
            " c           3",
            " b           2",
            " a           1",
        ]
        assert app.messages == [], "the cursor's row is the same: nothing highlighted anew"


@run_async
async def test_a_changed_row_is_the_only_one_drawn_again() -> None:
    app = Table()
    async with app.run_test(size=(80, 12)) as pilot:
        app.values = {"a": 5, "b": 4, "c": 3, "d": 2}
        app.draw()
        await pilot.pause()
        drawn = counting_draws(app.table)
        app.values["c"] = -3  # marked red: only the style changes
        app.draw()
        await pilot.pause()
        assert drawn == [("c", False)]
        assert "red" in str(app.table.cells("c")["name"].style)

        drawn.clear()
        app.draw()  # the same again: nothing drawn
        await pilot.pause()
        assert drawn == []

        await pilot.press("down")  # the cursor leaves a, comes to b: each drawn once
        await pilot.pause()
        assert sorted(drawn) == [("a", False), ("b", True)]
        drawn.clear()
        await pilot.press("up", "down")  # back and forth: both lines were kept
        await pilot.pause()
        assert drawn == []


@run_async
async def test_enter_and_clicks_select_move_and_sort() -> None:
    app = Table()
    async with app.run_test(size=(80, 12)) as pilot:
        app.values = {"a": 1, "b": 3, "c": 2}
        app.draw()  # b, c, a
        await pilot.pause()
        assert kinds(app) == [("Highlighted", "b")], "the cursor came to the first row"
        app.messages.clear()
        await pilot.click("#table", offset=(2, 3))  # the third row: the cursor to a
        await pilot.click("#table", offset=(2, 3))  # again: a selected
        await pilot.press("enter")
        assert kinds(app) == [("Highlighted", "a"), ("Selected", "a"), ("Selected", "a")]

        app.messages.clear()
        x = 10 + CELL_PADDING  # the second column's label, "figure"
        await pilot.click("#table", offset=(x + 1, 0))
        assert kinds(app)[0] == ("header", "figure")
        await pilot.click("#table", offset=(1, 0))
        assert ("header", "name") in kinds(app)
        assert app.table.keys == ["a", "b", "c"], "sorted by name on a click on its label"
        assert app.table.cursor_key == "a"


@run_async
async def test_the_wide_columns_show_only_on_a_wide_terminal_and_cells_are_cut() -> None:
    app = Table()
    async with app.run_test(size=(80, 8)) as pilot:
        app.values = {"a name longer than ten": 1}
        app.draw()
        await pilot.pause()
        assert app.table.labels == ["name", "figure"]
        assert screen_lines(app)[:2] == [" name        figure", " a name lo…  1"]

        await pilot.resize_terminal(120, 8)
        await pilot.pause()
        assert app.table.labels == ["name", "figure", "note"]
        header, row = screen_lines(app)[:2]
        assert header.split() == ["name", "figure", "note"]
        assert "note of a n…" in row, "the rows drawn again for the new columns"


@run_async
async def test_the_cursor_keys_and_scrolling_under_the_header() -> None:
    app = Table()
    async with app.run_test(size=(80, 8)) as pilot:  # the header and 7 rows
        app.values = {f"r{i:02}": 100 - i for i in range(20)}
        app.draw()
        await pilot.pause()
        table = app.table
        await pilot.press("pagedown")
        assert table.cursor_row == 7, "a page: the rows the screen shows"
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_key == "r19"
        lines = screen_lines(app)
        assert lines[0].split() == ["name", "figure"], "the header stays"
        assert lines[1].split()[0] == "r13"
        assert lines[-1].split()[0] == "r19", "scrolled: the last row on the last line"
        await pilot.press("pageup", "up")
        assert table.cursor_row == 19 - 7 - 1
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_key == "r00"
        assert screen_lines(app)[1].split()[0] == "r00"

        table.move_cursor(10)
        app.values = {k: v for k, v in app.values.items() if k != "r10"}  # its row goes
        app.draw()
        assert table.cursor_key == "r11", "the cursor keeps its place when its row goes"
        app.values = {}
        app.draw()
        await pilot.pause()
        assert table.cursor_key is None
        assert screen_lines(app)[0].split() == ["name", "figure"]
