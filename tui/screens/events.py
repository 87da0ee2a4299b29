"""The event log: commands with their reasons, rule transitions, alarms and who did what."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from campus import wire
from campus.text import clock_text, source_text, value_text
from campus.wire import Kind
from tui.eventfilter import Term, matches, parse_filter
from tui.messages import OpenRoom
from tui.screens.base import SiteScreen, footer
from tui.widgets.columns import Column, cells
from tui.widgets.statusbar import StatusBar

SHOWN = 300
STYLES = {"command": "cyan", "transition": "green", "alarm": "bold red", "audit": "bold yellow"}
LABELS = {"command": "cmd", "transition": "rule"}
COLUMNS = [
    Column("Time", 8),
    Column("Type", 5),
    Column("Room", 15, grow=1, most=20),
    Column("What", 38, grow=5),
]


def describe(event: wire.Event) -> str:
    """One event in words."""
    if isinstance(event, wire.CommandEvent):
        return (
            f"{event.name} → {value_text(event.value)} "
            f"by {source_text(event.source)}: {event.reason}"
        )
    if isinstance(event, wire.TransitionEvent):
        return f"{event.rule} {event.old_state} → {event.new_state}: {event.cause}"
    if isinstance(event, wire.AlarmEvent):
        if event.acknowledged_by:
            return f"acknowledged by {event.acknowledged_by}: {event.message}"
        word = "raised" if event.active else "cleared"
        return f"{word} ({event.severity}): {event.message}"
    return f"{event.who} {event.action} {event.detail}"


def event_room(event: wire.Event) -> str:
    """The room an event is about ("" for an audit)."""
    return "" if isinstance(event, wire.AuditEvent) else event.room


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
        self.terms: list[Term] = []
        self.loaded = False
        self.shown: list[wire.Event] = []

    def compose(self) -> ComposeResult:
        yield StatusBar("events")
        yield Input(placeholder="filter: words, or type:audit who:alice reason:co2", id="filter")
        yield self.table("events", COLUMNS)
        yield Static(id="detail")
        yield footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#events", DataTable).focus()

    def redraw(self, kinds: frozenset[Kind]) -> None:
        if not self.loaded and self.state.site and self.campus_app.connected:
            self.loaded = True
            self.fetch()
        table: DataTable[Text] = self.query_one("#events", DataTable)
        drawn = table.row_count == len(self.shown)  # not after a resize cleared the rows
        if drawn and (self.paused or not kinds & {Kind.EVENTS, Kind.CONTROLLER}):
            return
        info = self.state.controller
        tz = info.timezone if info is not None else "UTC"
        table.clear()
        events = (
            self.shown
            if self.paused
            else [e for e in self.state.events if matches(self.terms, e)][-SHOWN:]
        )
        for index, event in enumerate(events):
            kind = event.type
            row = {
                "Time": Text(clock_text(event.ts, tz, "%H:%M:%S")),
                "Type": Text(LABELS.get(kind, kind), style=STYLES.get(kind, "")),
                "Room": Text(event_room(event)),
                "What": Text(describe(event)),
            }
            table.add_row(*cells(table, row), key=str(index))
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

    @work(exclusive=True)
    async def fetch(self) -> None:
        """The controller's recent events, so the log is not empty on opening."""
        data = await self.campus_app.request("events", {"limit": SHOWN}, changes=False)
        self.state.add_events(wire.decode(wire.EventsAnswer, data).events)
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
        self.terms = parse_filter(event.value)
        self.redraw(frozenset({Kind.EVENTS}))

    def on_input_submitted(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#events", DataTable).focus()

    def action_clear(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self.terms = []
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
        room = event_room(self.shown[index]) if 0 <= index < len(self.shown) else ""
        if room:
            self.post_message(OpenRoom(room))
