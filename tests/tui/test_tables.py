"""Tables and lines kept up to date by `show_rows` (tui/screens/base.py) and `show_line`
(tui/widgets/lines.py), on bare widgets: the rows in the order asked after another order, after
new figures and after rows come and go; a new order moves the rows in place (no clear, no cell
written again); the cursor stays on its row; a line of a fixed size is updated without laying
the screen out; a cell draws as its text, once for the same options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from tests.support.aio import run_async
from tui.screens.base import selected_key, show_rows
from tui.widgets.columns import Cell
from tui.widgets.lines import show_line

pytestmark = pytest.mark.tui
COLUMNS = ("name", "figure")


class Tables(App[None]):
    CSS = "#fixed { height: 1; }"

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(cursor_type="row")
        for label in COLUMNS:
            table.add_column(label, width=8, key=label)
        yield table
        yield Static(id="fixed")
        yield Static(id="auto")


def figures(values: dict[str, int]) -> list[tuple[str, dict[str, Text]]]:
    """Rows by figure, highest first (as the district's sorts)."""
    ordered = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(key, {"name": Text(key), "figure": Text(str(value))}) for key, value in ordered]


def shown(table: DataTable[Text]) -> list[tuple[str, str]]:
    """What the table shows, top to bottom: each row's cells as text, by position."""
    return [
        (str(table.get_cell_at((i, 0))), str(table.get_cell_at((i, 1))))
        for i in range(table.row_count)
    ]


def keys(table: DataTable[Text]) -> list[str]:
    return [str(row.key.value) for row in table.ordered_rows]


@run_async
async def test_rows_follow_the_order_asked_moved_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Tables()
    async with app.run_test(size=(40, 12)) as pilot:
        table: DataTable[Text] = app.query_one(DataTable)
        values = {"a": 3, "b": 2, "c": 1}
        show_rows(table, figures(values))
        await pilot.pause()
        assert keys(table) == ["a", "b", "c"]
        table.move_cursor(row=1)
        writes: list[tuple[str, ...]] = []

        def counted(name: str, write: Callable[..., Any]) -> Callable[..., Any]:
            def counting(*args: Any, **kwargs: Any) -> Any:
                writes.append((name, *(str(getattr(a, "value", a)) for a in args[:2])))
                return write(*args, **kwargs)

            return counting

        for name in ("clear", "add_row", "remove_row", "update_cell", "sort"):
            monkeypatch.setattr(table, name, counted(name, getattr(table, name)))

        show_rows(table, list(reversed(figures(values))))  # another order, the same cells
        await pilot.pause()
        assert writes == [("sort", "name")], "moved in place: no cell written, no clear"
        assert keys(table) == ["c", "b", "a"]
        assert shown(table) == [("c", "1"), ("b", "2"), ("a", "3")]

        writes.clear()
        values["c"] = 5  # a new figure in the sort column: c first again
        show_rows(table, figures(values))
        await pilot.pause()
        assert writes == [("update_cell", "c", "figure"), ("sort", "name")]
        assert shown(table) == [("c", "5"), ("a", "3"), ("b", "2")]
        assert selected_key(table) == "b", "the cursor stays on its row"

        writes.clear()
        del values["a"]
        values["d"] = 4  # a row goes, one comes in the middle
        show_rows(table, figures(values))
        await pilot.pause()
        assert writes == [("remove_row", "a"), ("add_row", "d", "4"), ("sort", "name")]
        assert keys(table) == ["c", "d", "b"]
        assert shown(table) == [("c", "5"), ("d", "4"), ("b", "2")]
        assert selected_key(table) == "b"

        writes.clear()
        show_rows(table, figures(values))  # nothing changed: nothing written
        assert writes == []


@run_async
async def test_rows_sharing_a_first_cell_are_refilled_in_the_order_asked() -> None:
    """The in-place move knows a row by its first cell object: rows sharing one are cleared
    and added again instead, still in the order asked."""
    app = Tables()
    async with app.run_test(size=(40, 12)) as pilot:
        table: DataTable[Text] = app.query_one(DataTable)
        same = Text("-")
        rows = [(key, {"name": same, "figure": Text(key)}) for key in ("x", "y", "z")]
        show_rows(table, rows)
        show_rows(table, [rows[2], rows[0], rows[1]])
        await pilot.pause()
        assert keys(table) == ["z", "x", "y"]
        assert shown(table) == [("-", "z"), ("-", "x"), ("-", "y")]


@run_async
async def test_a_line_of_a_fixed_size_is_shown_without_a_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = Tables()
    async with app.run_test(size=(40, 12)) as pilot:
        updates: list[tuple[str | None, bool]] = []
        for static in app.query(Static):
            update = static.update

            def counting(
                content: Any, *, layout: bool = True, s: Static = static, u: Any = update
            ) -> None:
                updates.append((s.id, layout))
                u(content, layout=layout)

            monkeypatch.setattr(static, "update", counting)
        for _ in range(2):  # the second time the same: nothing to update
            show_line(app.query_one("#fixed", Static), Text("sorted by CO2"))
            show_line(app.query_one("#auto", Static), Text("a line\nthat may grow"))
        await pilot.pause()
        assert updates == [("fixed", False), ("auto", True)]
        assert str(app.query_one("#fixed", Static).content) == "sorted by CO2"


def test_a_cell_draws_as_its_text_once_for_the_same_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console = Console(width=40, color_system="truecolor", force_terminal=True)
    text = Text("CO2 91%", style="red", no_wrap=True, overflow="ellipsis")
    text.stylize("bold", 0, 3)
    cell = Cell.of(text)
    assert Cell.of(cell) is cell
    assert (cell.plain, cell.style, cell.spans) == (text.plain, text.style, text.spans)
    drawn: list[int] = []
    draw = Text.__rich_console__

    def counting(self: Text, *args: Any) -> Any:
        if self is cell:
            drawn.append(args[1].max_width)
        return draw(self, *args)

    monkeypatch.setattr(Text, "__rich_console__", counting)
    for width in (5, 5, 10, 10, 5):
        options = console.options.update(width=width, no_wrap=True)
        assert console.render_lines(cell, options) == console.render_lines(text, options)
    assert drawn == [5, 10, 5], "drawn again only when the width changed"


@run_async
async def test_the_cells_written_are_cells() -> None:
    app = Tables()
    async with app.run_test(size=(40, 12)):
        table: DataTable[Text] = app.query_one(DataTable)
        show_rows(table, figures({"a": 1}))
        show_rows(table, figures({"a": 2}))
        assert all(isinstance(cell, Cell) for cell in table.get_row("a"))
        assert str(table.get_cell("a", "figure")) == "2"
