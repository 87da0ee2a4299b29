"""The alarm list: what is wrong where, since when, who has seen it; acknowledge, jump to room."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from campus.text import clock_text
from campus.wire import Alarm, Kind
from tui.messages import OpenRoom
from tui.screens.base import SiteScreen, footer
from tui.widgets.statusbar import StatusBar

SEVERITY = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


class AlarmsScreen(SiteScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "acknowledge", "Ack", id="alarms.acknowledge"),
        Binding("enter", "open", "Room", priority=True, id="alarms.open"),
    ]

    def compose(self) -> ComposeResult:
        yield StatusBar("alarms")
        yield Static(id="summary")
        table: DataTable[Text] = DataTable(id="alarms", cursor_type="row")
        for label, width in (
            ("Sev", 4),
            ("Room", 15),
            ("Message", 29),
            ("Since", 5),
            ("State", 12),
        ):
            table.add_column(label, width=width, key=label)
        yield table
        yield footer()

    def on_mount(self) -> None:
        self.query_one("#alarms", DataTable).focus()

    def redraw(self, kinds: frozenset[Kind]) -> None:
        if not kinds & {Kind.ALARMS, Kind.CONTROLLER}:
            return
        alarms = self.state.alarms
        table: DataTable[Text] = self.query_one("#alarms", DataTable)
        current = self.selected()
        table.clear()
        for alarm in alarms:
            table.add_row(*self._cells(alarm), key=alarm.id)
        if current is not None and current.id in table.rows:
            table.move_cursor(row=table.get_row_index(current.id), animate=False)
        new = sum(1 for a in alarms if a.acknowledged_by is None)
        summary = f"{len(alarms)} alarms, {new} not acknowledged" if alarms else "no alarms"
        self.query_one("#summary", Static).update(Text(summary, style="bold red" if new else ""))

    def _cells(self, alarm: Alarm) -> list[Text]:
        info = self.state.controller
        tz = info.timezone if info is not None else "UTC"
        if alarm.acknowledged_by is not None:
            state = Text(f"✓ {alarm.acknowledged_by}", style="dim")
        elif alarm.active:
            state = Text("NEW", style="bold red")
        else:
            state = Text("cleared, new", style="yellow")
        severity = alarm.severity[:4]
        return [
            Text(severity, style=SEVERITY.get(alarm.severity, "")),
            Text(alarm.room),
            Text(alarm.message, style="" if alarm.active else "dim"),
            Text(clock_text(alarm.first_seen, tz)),
            state,
        ]

    def selected(self) -> Alarm | None:
        table = self.query_one("#alarms", DataTable)
        if not table.row_count:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return next((a for a in self.state.alarms if a.id == key.value), None)

    def action_acknowledge(self) -> None:
        alarm = self.selected()
        if alarm is not None:
            self.acknowledge(alarm.id)

    @work(group="requests")
    async def acknowledge(self, alarm_id: str) -> None:
        if await self.campus_app.request("acknowledge", {"alarm": alarm_id}) is not None:
            self.notify(f"{alarm_id} acknowledged")

    def action_open(self) -> None:
        alarm = self.selected()
        if alarm is not None:
            self.post_message(OpenRoom(alarm.room))

    @on(DataTable.RowSelected, "#alarms")
    def _selected(self) -> None:
        self.action_open()
