"""One room: live values with their last hour, who holds each actuator and why, and the state
of every rule instance in the room. Overrides, releases and explain start here."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from campus import wire
from campus.text import age_text, clock_text, source_text, value_text
from campus.wire import Kind, RoomSpec, RoomState
from tui.bands import STYLE, band
from tui.screens.base import SiteScreen, footer, selected_key
from tui.screens.confirm import ConfirmDialog
from tui.screens.explain import ExplainScreen
from tui.screens.override import OverrideDialog, OverrideRequest
from tui.widgets.columns import Column, cells
from tui.widgets.spark import bands, sparkline
from tui.widgets.statusbar import StatusBar

MINUTE = 60.0
HOUR = 60
"""Minutes a sparkline can show (what the ``trends`` request gives)."""
POINTS = [
    Column("Point", 11),
    Column("Value", 9),
    Column("Seen", 6),
    Column("Last hour", 30, grow=1, most=HOUR),
]
ACTUATORS = [
    Column("Actuator", 11),
    Column("Value", 6),
    Column("Device", 6),
    Column("Held by", 34, grow=1),
]
INSTANCES = [
    Column("Rule", 32, grow=1, most=40),
    Column("State", 9),
    Column("Since", 5),
    Column("Cause", 20, grow=2),
]


class RoomScreen(SiteScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="room.back"),
        Binding("o", "override", "Override", id="room.override"),
        Binding("x", "release", "Release", id="room.release"),
        Binding("x", "nothing_to_release", show=False),
        Binding("w", "explain", "Why?", id="room.explain"),
        Binding("tab", "app.focus_next", "Next table", show=False),
    ]

    def __init__(self, room_id: str) -> None:
        super().__init__()
        self.room_id = room_id
        self.trends: dict[str, list[float | None]] = {}
        self.history_end: float | None = None
        """The controller time of the last history minute."""
        self._overridden = False

    @property
    def spec(self) -> RoomSpec:
        return self.state.rooms[self.room_id]

    def compose(self) -> ComposeResult:
        yield StatusBar("rooms")
        yield Static(id="title")
        yield self.table("points", POINTS)
        yield self.table("actuators", ACTUATORS)
        yield Static(id="reason")
        yield self.table("instances", INSTANCES)
        yield Static(id="cause")
        yield footer()

    def on_mount(self) -> None:
        self.query_one("#actuators", DataTable).focus()
        self.load_history()

    @work(exclusive=True, group="trends")
    async def load_history(self) -> None:
        data = await self.campus_app.request("trends", {"room": self.room_id}, changes=False)
        answer = wire.decode(wire.TrendsAnswer, data)
        self.trends = {name: list(values) for name, values in answer.points.items()}
        self.history_end = answer.end if answer.room == self.room_id else None
        self.redraw(frozenset({Kind.ROOM}))

    # -- drawing ---------------------------------------------------------------------------------

    def redraw(self, kinds: frozenset[Kind]) -> None:
        if self.room_id not in self.state.rooms:
            return
        state = self.state.room_states.get(self.room_id)
        if state is not None:
            self._record(state)
        self._title()
        self._points(state)
        self._actuators(state)
        self._instances(state)
        self._reason(state)
        self._cause(state)
        self._bindings_changed()

    def _record(self, state: RoomState) -> None:
        """Carry the sparklines on with live values, one slot per controller minute."""
        if self.history_end is None:
            return
        minutes = int(state.ts // MINUTE) - int(self.history_end // MINUTE)
        if minutes > 0:
            for values in self.trends.values():
                values.extend([None] * minutes)
                del values[:-HOUR]
            self.history_end = state.ts
        for name, point in state.points.items():
            series = self.trends.setdefault(name, [None])
            if point.value is not None and point.quality == "good":
                series[-1] = float(point.value)

    def _title(self) -> None:
        spec = self.spec
        alarms = self.state.alarms_in(self.room_id)
        line = Text()
        line.append(f"{spec.name}", style="bold")
        line.append(f"  {spec.id} · {spec.kind}")
        if spec.capacity:
            line.append(f" · {spec.capacity} seats")
        for alarm in alarms:
            style = "bold red" if alarm.acknowledged_by is None else "red"
            line.append(f"\n⚠ {alarm.severity}: {alarm.message}", style=style)
        self.query_one("#title", Static).update(line)

    def _points(self, state: RoomState | None) -> None:
        table = self.query_one("#points", DataTable)
        now = self.state.now()
        occupancy = state.points.get("occupancy") if state is not None else None
        occupied = occupancy.value if occupancy is not None else None
        spark_width = _width(table, "Last hour")
        rows = []
        for name, spec in self.spec.points.items():
            point = state.points.get(name) if state is not None else None
            if point is None or point.value is None:
                value = Text("?", style="dim")
            else:
                style = STYLE[band(name, point.value, occupied is True)]
                value = Text(value_text(point.value, point.unit, kind=name), style=style)
            seen = Text("-", style="dim")
            if point is not None and point.quality in ("stale", "unavailable"):
                age = age_text(now - point.ts) if now is not None and point.ts else "?"
                word = "offline" if point.quality == "unavailable" else age
                seen = Text(word, style="bold magenta")
            elif point is not None and point.ts is not None and now is not None:
                seen = Text("now" if now - point.ts < MINUTE else age_text(now - point.ts))
            draw = bands if spec.type == "boolean" else sparkline
            spark = Text(draw(self.trends.get(name, []), spark_width), style="cyan")
            rows.append((name, {"Point": Text(name), "Value": value, "Seen": seen,
                                "Last hour": spark}))  # fmt: skip
        _fill(table, rows)

    def _actuators(self, state: RoomState | None) -> None:
        table = self.query_one("#actuators", DataTable)
        info = self.state.controller
        tz = info.timezone if info is not None else "UTC"
        rows = []
        for name, spec in self.spec.actuators.items():
            actuator = state.actuators.get(name) if state is not None else None
            if actuator is None:
                missing = {"Actuator": Text(name), "Value": Text("?"), "Device": Text(""),
                           "Held by": Text("")}  # fmt: skip
                rows.append((name, missing))
                continue
            device = (
                Text("offline", style="bold magenta")
                if not actuator.online
                else Text(value_text(actuator.reported, spec.unit))
            )
            winner = actuator.winner
            held = Text("")
            if winner is not None:
                style = "bold yellow" if winner.source.startswith("override:") else ""
                held = Text(f"{source_text(winner.source)} [{winner.level}]", style=style)
                if winner.until is not None:
                    held.append(f" until {clock_text(winner.until, tz)}", style=style)
            value = Text(value_text(actuator.value, spec.unit), style="bold")
            rows.append(
                (name, {"Actuator": Text(name), "Value": value, "Device": device, "Held by": held})
            )
        _fill(table, rows)

    def _instances(self, state: RoomState | None) -> None:
        table = self.query_one("#instances", DataTable)
        info = self.state.controller
        tz = info.timezone if info is not None else "UTC"
        rows = []
        for instance in state.rules if state is not None else ():
            style = {"active": "bold green", "pending": "yellow", "releasing": "yellow"}.get(
                instance.state, "dim"
            )
            row = {
                "Rule": Text(instance.rule),
                "State": Text(instance.state, style=style),
                "Since": Text(clock_text(instance.since, tz)),
                "Cause": Text(instance.cause),
            }
            rows.append((instance.rule, row))
        _fill(table, rows)

    def _reason(self, state: RoomState | None) -> None:
        """The highlighted actuator's reason in full: the table cell is too narrow for it."""
        name = self.selected_actuator()
        actuator = state.actuators.get(name) if state is not None and name else None
        winner = actuator.winner if actuator is not None else None
        text = Text(f"why: {winner.reason}", style="italic") if winner is not None else Text("")
        self.query_one("#reason", Static).update(text)

    def _cause(self, state: RoomState | None) -> None:
        """The highlighted rule instance in full: its cause is cut in the table."""
        rule = selected_key(self.query_one("#instances", DataTable))
        found = [i for i in state.rules if i.rule == rule] if state is not None else []
        text = Text("")
        if found:
            info = self.state.controller
            since = clock_text(found[0].since, info.timezone if info is not None else "UTC")
            text = Text(f"{rule}: {found[0].state} since {since}: {found[0].cause}", "italic")
        self.query_one("#cause", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        state = self.state.room_states.get(self.room_id)
        if event.data_table.id == "actuators":
            self._reason(state)
            self._bindings_changed()
        elif event.data_table.id == "instances":
            self._cause(state)

    # -- actions ---------------------------------------------------------------------------------

    def selected_actuator(self) -> str | None:
        return selected_key(self.query_one("#actuators", DataTable))

    def action_override(self) -> None:
        name = self.selected_actuator()
        if name is None:
            return
        spec = self.spec.actuators[name]
        state = self.state.room_states.get(self.room_id)
        current = state.actuators.get(name) if state is not None else None
        info = self.state.controller
        dialog = OverrideDialog(
            f"{self.room_id}.{name}",
            spec,
            current.value if current else None,
            self.state.now,
            info.timezone if info is not None else "UTC",
        )
        self.app.push_screen(dialog, self._override)

    def _override(self, choice: OverrideRequest | None) -> None:
        if choice is not None:
            self.send("override", choice.body(), f"{choice.actuator} overridden")

    def overridden(self) -> bool:
        """Whether an override holds the highlighted actuator (it may not be the winner)."""
        name = self.selected_actuator()
        state = self.state.room_states.get(self.room_id)
        actuator = state.actuators.get(name) if state is not None and name else None
        holders = actuator.holders if actuator is not None else []
        return any(h.source.startswith("override:") for h in holders)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`x` releases (and shows in the footer) only where an override holds; elsewhere it
        says so."""
        if action == "release":
            return self.overridden()
        if action == "nothing_to_release":
            return not self.overridden()
        return True

    def _bindings_changed(self) -> None:
        """Tell the footer when `x` starts or stops applying (not on every redraw)."""
        overridden = self.overridden()
        if overridden != self._overridden:
            self._overridden = overridden
            self.refresh_bindings()

    def action_nothing_to_release(self) -> None:
        name = self.selected_actuator()
        if name is not None:
            self.notify(f"{self.room_id}.{name} has no override to release")

    def action_release(self) -> None:
        name = self.selected_actuator()
        if name is None:
            return
        actuator = f"{self.room_id}.{name}"

        def answer(yes: bool | None) -> None:
            if yes:
                self.send("release", {"actuator": actuator}, f"{actuator} released")

        self.app.push_screen(ConfirmDialog(f"Release the override of {actuator}?"), answer)

    def action_explain(self) -> None:
        focused = self.focused
        if isinstance(focused, DataTable) and focused.id == "instances":
            rule = selected_key(focused)
            target = f"{rule}@{self.room_id}" if rule else None
        else:
            name = self.selected_actuator()
            target = f"{self.room_id}.{name}" if name else None
        if target is not None:
            self.app.push_screen(ExplainScreen(target))

    @work(group="requests")
    async def send(self, name: str, body: dict[str, Any], done: str) -> None:
        if await self.campus_app.request(name, body) is not None:
            self.notify(done)


def _width(table: DataTable[Text], label: str) -> int:
    return next((c.width for c in table.ordered_columns if c.key.value == label), 0)


def _fill(table: DataTable[Text], rows: list[tuple[str, dict[str, Text]]]) -> None:
    """Replace the rows, keeping the cursor on the same key."""
    current = selected_key(table)
    table.clear()
    for key, row in rows:
        table.add_row(*cells(table, row), key=key)
    if current is not None and current in table.rows:
        table.move_cursor(row=table.get_row_index(current), animate=False)
