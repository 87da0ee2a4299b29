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
from tui.screens.base import SiteScreen, footer, selected_key
from tui.widgets.columns import Column, cells
from tui.widgets.statusbar import StatusBar

SEVERITY = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
COLUMNS = [
    Column("Sev", 4),
    Column("Room", 15, grow=1, most=20),
    Column("Rule", 16, grow=1, wide=120, most=30),
    Column("Message", 29, grow=3),
    Column("Since", 5),
    Column("State", 12),
]


def alarm_state(alarm: Alarm, tz: str) -> str:
    """``active``, or ``cleared``, and who acknowledged it when."""
    state = "active" if alarm.active else "cleared"
    if alarm.acknowledged_by is not None:
        when = clock_text(alarm.acknowledged_at, tz)
        state += f", acknowledged by {alarm.acknowledged_by} at {when}"
    return state


class AlarmsScreen(SiteScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "acknowledge", "Ack", id="alarms.acknowledge"),
        Binding("enter", "open", "Room", priority=True, id="alarms.open"),
    ]

    def compose(self) -> ComposeResult:
        yield StatusBar("alarms")
        yield Static(id="summary")
        yield self.table("alarms", COLUMNS)
        yield Static(id="detail")
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
            table.add_row(*cells(table, self._cells(alarm)), key=alarm.id)
        if current is not None and current.id in table.rows:
            table.move_cursor(row=table.get_row_index(current.id), animate=False)
        self._detail()
        new = sum(1 for a in alarms if a.acknowledged_by is None)
        summary = f"{len(alarms)} alarms, {new} not acknowledged" if alarms else "no alarms"
        self.query_one("#summary", Static).update(Text(summary, style="bold red" if new else ""))

    def _cells(self, alarm: Alarm) -> dict[str, Text]:
        if alarm.acknowledged_by is not None:
            state = Text(f"✓ {alarm.acknowledged_by}", style="dim")
        elif alarm.active:
            state = Text("NEW", style="bold red")
        else:
            state = Text("cleared, new", style="yellow")
        return {
            "Sev": Text(alarm.severity[:4], style=SEVERITY.get(alarm.severity, "")),
            "Room": Text(alarm.room),
            "Rule": Text(alarm.rule, style="dim"),
            "Message": Text(alarm.message, style="" if alarm.active else "dim"),
            "Since": Text(clock_text(alarm.first_seen, self._timezone())),
            "State": state,
        }

    def _timezone(self) -> str:
        info = self.state.controller
        return info.timezone if info is not None else "UTC"

    def _detail(self) -> None:
        """The highlighted alarm in full: the table has room for the start of its message."""
        alarm = self.selected()
        out = Text()
        if alarm is not None:
            tz = self._timezone()
            out.append(f"{alarm.severity} in {alarm.room}: ", style=SEVERITY.get(alarm.severity))
            out.append(f"{alarm.message}\n")
            out.append(
                f"rule {alarm.rule}; since {clock_text(alarm.first_seen, tz)}, last seen "
                f"{clock_text(alarm.last_seen, tz)}; {alarm_state(alarm, tz)}",
                style="dim",
            )
        self.query_one("#detail", Static).update(out)

    def on_data_table_row_highlighted(self) -> None:
        self._detail()

    def selected(self) -> Alarm | None:
        key = selected_key(self.query_one("#alarms", DataTable))
        return next((a for a in self.state.alarms if a.id == key), None)

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
