"""The event log: commands with their reasons, rule transitions, alarms and who did what."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from tui.messages import OpenRoom
from tui.screens.base import SiteScreen, footer
from tui.text import clock_text, source_text, value_text
from tui.topics import Kind
from tui.widgets.statusbar import StatusBar

SHOWN = 300
STYLES = {"command": "cyan", "transition": "green", "alarm": "bold red", "audit": "bold yellow"}
LABELS = {"command": "cmd", "transition": "rule"}


def describe(event: dict[str, Any]) -> str:
    """One event in words."""
    kind = event.get("type")
    if kind == "command":
        return (
            f"{event.get('name')} → {value_text(event.get('value'))} "
            f"by {source_text(str(event.get('source', '')))}: {event.get('reason', '')}"
        )
    if kind == "transition":
        return (
            f"{event.get('rule')} {event.get('old_state')} → {event.get('new_state')}: "
            f"{event.get('cause', '')}"
        )
    if kind == "alarm":
        if event.get("acknowledged_by"):
            return f"acknowledged by {event['acknowledged_by']}: {event.get('message', '')}"
        word = "raised" if event.get("active") else "cleared"
        return f"{word} ({event.get('severity')}): {event.get('message', '')}"
    if kind == "audit":
        return f"{event.get('who')} {event.get('action')} {event.get('detail', '')}"
    return str(event)


class EventsScreen(SiteScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", key_display="/", id="events.filter"),
        Binding("p", "pause", "Pause", id="events.pause"),
        Binding("enter", "open", "Room", priority=True, id="events.open"),
        Binding("escape", "clear", "Clear", show=False, id="events.clear"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.paused = False
        self.needle = ""
        self.loaded = False
        self.shown: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield StatusBar("events")
        yield Input(placeholder="filter events (room, rule, user, text)", id="filter")
        table: DataTable[Text] = DataTable(id="events", cursor_type="row")
        for label, width in (("Time", 8), ("Type", 5), ("Room", 15), ("What", 38)):
            table.add_column(label, width=width, key=label)
        yield table
        yield Static(id="detail")
        yield footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#events", DataTable).focus()

    def redraw(self, kinds: frozenset[Kind]) -> None:
        if not self.loaded and self.state.site and self.campus_app.connected:
            self.loaded = True
            self.fetch()
        if self.paused or not kinds & {Kind.EVENTS, Kind.CONTROLLER}:
            return
        info = self.state.controller
        tz = info.timezone if info is not None else "UTC"
        table: DataTable[Text] = self.query_one("#events", DataTable)
        table.clear()
        events = [e for e in self.state.events if self._matches(e)][-SHOWN:]
        for index, event in enumerate(events):
            ts = event.get("ts")
            when = clock_text(float(ts), tz, "%H:%M:%S") if isinstance(ts, int | float) else "-"
            kind = str(event.get("type", ""))
            table.add_row(
                Text(when),
                Text(LABELS.get(kind, kind), style=STYLES.get(kind, "")),
                Text(str(event.get("room", ""))),
                Text(describe(event)),
                key=str(index),
            )
        self.shown = events
        if events:
            table.move_cursor(row=len(events) - 1, animate=False)
        self._detail()

    def on_data_table_row_highlighted(self) -> None:
        self._detail()

    def _detail(self) -> None:
        """The highlighted event in full (the table cell is too narrow for most reasons)."""
        table = self.query_one("#events", DataTable)
        index = table.cursor_row
        text = describe(self.shown[index]) if 0 <= index < len(self.shown) else ""
        self.query_one("#detail", Static).update(Text(text, style="italic"))

    def _matches(self, event: dict[str, Any]) -> bool:
        if not self.needle:
            return True
        text = f"{event.get('room', '')} {event.get('type', '')} {describe(event)}"
        return self.needle.lower() in text.lower()

    @work(exclusive=True)
    async def fetch(self) -> None:
        """The controller's recent events, so the log is not empty on opening."""
        data = await self.campus_app.request("events", {"limit": SHOWN}, changes=False)
        if isinstance(data, dict) and isinstance(data.get("events"), list):
            self.state.add_events([e for e in data["events"] if isinstance(e, dict)])
            self.redraw(frozenset({Kind.EVENTS}))

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.notify("event log paused" if self.paused else "event log follows again")
        if not self.paused:
            self.redraw(frozenset({Kind.EVENTS}))

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.needle = event.value.strip()
        self.redraw(frozenset({Kind.EVENTS}))

    def on_input_submitted(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#events", DataTable).focus()

    def action_clear(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self.needle = ""
        self.query_one("#events", DataTable).focus()
        self.redraw(frozenset({Kind.EVENTS}))

    def action_open(self) -> None:
        if self.query_one("#filter", Input).has_focus:
            self.on_input_submitted()
            return
        table = self.query_one("#events", DataTable)
        if not table.row_count:
            return
        index = table.cursor_row
        room = self.shown[index].get("room") if 0 <= index < len(self.shown) else None
        if isinstance(room, str) and room:
            self.post_message(OpenRoom(room))
