"""The campus at a glance: campus totals on top, every room below, the rooms that need staff
first (alarms, offline devices, stale sensors, stuffy air), coloured by comfort band."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from campus.text import age_text, value_text
from campus.wire import Kind, RoomSpec, RoomState
from tui.bands import STYLE, Band, band, offline, stale_points, urgency
from tui.messages import OpenRoom
from tui.screens.base import SiteScreen, footer, selected_key, show_rows
from tui.widgets.columns import Column
from tui.widgets.statusbar import StatusBar

COLUMNS = [
    Column("Room", 15, grow=1, most=20),
    Column("Name", 14, grow=1, wide=120, most=24),
    Column("Kind", 9),
    Column("Occ", 3),
    Column("CO2", 4),
    Column("Lux", 4),
    Column("°C", 4),
    Column("RH", 4, wide=100),
    Column("Light", 5),
    Column("Vent", 4),
    Column("Status", 12, grow=2),
]
POINTS = {"Occ": "occupancy", "CO2": "co2", "Lux": "illuminance", "°C": "temperature",
          "RH": "humidity"}  # fmt: skip
ACTUATORS = {"Light": "lights", "Vent": "ventilation"}
SORTS = ("worst first", "campus order")
DRAWN = frozenset({Kind.CAMPUS, Kind.ROOM, Kind.ALARMS, Kind.CONTROLLER})


class OverviewScreen(SiteScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", priority=True, id="rooms.open"),
        Binding("slash", "search", "Search", key_display="/", id="rooms.search"),
        Binding("b", "building", "Bldg", id="rooms.building"),
        Binding("k", "kind", "Kind", id="rooms.kind"),
        Binding("s", "sort", "Sort", id="rooms.sort"),
        Binding("escape", "clear", "Clear", show=False, id="rooms.clear"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.search = ""
        self.building: str | None = None
        self.kind: str | None = None
        self.sort = SORTS[0]

    def compose(self) -> ComposeResult:
        yield StatusBar("rooms")
        yield Static(id="meters")
        yield Static(id="filters")
        yield Input(placeholder="search rooms (id or name), enter to keep", id="search")
        yield self.table("rooms", COLUMNS, zebra_stripes=True)
        yield Static(id="detail")
        yield footer()

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one("#rooms", DataTable).focus()

    # -- drawing ---------------------------------------------------------------------------------

    def redraw(self, kinds: frozenset[Kind]) -> None:
        if kinds & DRAWN:
            self._meters()
            self._rows()
        self._filters()

    def visible_rooms(self) -> list[RoomSpec]:
        state = self.state
        needle = self.search.lower()
        rooms = [
            room
            for room in state.rooms.values()
            if (self.building is None or room.building == self.building)
            and (self.kind is None or room.kind == self.kind)
            and (not needle or needle in room.id.lower() or needle in room.name.lower())
        ]
        if self.sort == SORTS[0]:
            rooms.sort(key=lambda r: urgency(r, state.room_states.get(r.id), state.alarms_in(r.id)))
        return rooms

    def _rows(self) -> None:
        rows = [(room.id, self._cells(room)) for room in self.visible_rooms()]
        show_rows(self.query_one("#rooms", DataTable), rows)
        self._detail()

    def _cells(self, room: RoomSpec) -> dict[str, Text]:
        state = self.state.room_states.get(room.id)
        points = state.points if state is not None else {}
        occupancy = points.get("occupancy")
        occupied = occupancy.value if occupancy is not None else None
        occupied = occupied if isinstance(occupied, bool) else None
        row = {"Room": Text(room.id), "Name": Text(room.name), "Kind": Text(room.kind, style="dim")}
        for label, name in POINTS.items():
            row[label] = self._point(name, room, state, occupied)
        for label, name in ACTUATORS.items():
            row[label] = self._actuator(name, room, state)
        row["Status"] = self._status(room, state)
        return row

    def _detail(self) -> None:
        """The highlighted room in full: its alarms, offline devices and stale sensors (the
        status cell has room for the first words only)."""
        room = self.state.rooms.get(self._current_room() or "")
        out = Text()
        if room is not None:
            state = self.state.room_states.get(room.id)
            out.append(room.id, style="bold")
            out.append(f"  {room.name} · {room.kind}")
            if room.capacity:
                out.append(f" · {room.capacity} seats")
            for alarm in self.state.alarms_in(room.id):
                seen = (
                    f"acknowledged by {alarm.acknowledged_by}" if alarm.acknowledged_by else "new"
                )
                style = "red" if alarm.acknowledged_by else "bold red"
                out.append(f"\n⚠ {alarm.severity}: {alarm.message} ({seen})", style=style)
            gone = offline(state)
            if gone:
                out.append(f"\noffline: {', '.join(gone)}", style="bold magenta")
            stale = [self._stale_age(room, state, name) for name in stale_points(state)]
            if stale:
                out.append(f"\nstale: {', '.join(stale)}", style="magenta")
        self.query_one("#detail", Static).update(out)

    def on_data_table_row_highlighted(self) -> None:
        self._detail()

    def _point(
        self, name: str, room: RoomSpec, state: RoomState | None, occupied: bool | None
    ) -> Text:
        if name not in room.points:
            return Text("")
        point = state.points.get(name) if state is not None else None
        if point is None or point.value is None:
            return Text("?", style="dim")
        text = value_text(point.value, kind=name)
        if point.quality != "good":
            return Text(text, style="dim strike" if point.quality == "stale" else "dim")
        return Text(text, style=STYLE[band(name, point.value, occupied)])

    def _actuator(self, name: str, room: RoomSpec, state: RoomState | None) -> Text:
        if name not in room.actuators:
            return Text("")
        actuator = state.actuators.get(name) if state is not None else None
        if actuator is None:
            return Text("?", style="dim")
        shown = actuator.reported if actuator.reported is not None else actuator.value
        text = value_text(shown)
        if not actuator.online:
            return Text(text, style="dim")
        winner = actuator.winner
        held = winner is not None and winner.source.startswith("override:")
        return Text(text + ("*" if held else ""), style="bold" if held else "")

    def _status(self, room: RoomSpec, state: RoomState | None) -> Text:
        alarms = self.state.alarms_in(room.id)
        if alarms:
            open_ = sum(1 for a in alarms if a.acknowledged_by is None)
            word = "ALARM" if open_ else "alarm ✓"
            return Text(f"{word} ×{len(alarms)}", style="bold red" if open_ else "red")
        gone = offline(state)
        if gone:
            return Text(f"offline {','.join(gone)}", style="bold magenta")
        stale = stale_points(state)
        if stale:
            return Text(f"stale {self._stale_age(room, state, stale[0])}", style="magenta")
        return Text("ok", style="green") if state is not None else Text("no data", style="dim")

    def _stale_age(self, room: RoomSpec, state: RoomState | None, name: str) -> str:
        now = self.state.now()
        point = state.points.get(name) if state is not None else None
        if point is None or point.ts is None or now is None:
            return f"{name} never"
        return f"{name} {age_text(now - point.ts)}"

    def _meters(self) -> None:
        state = self.state
        rooms = state.room_states
        occupied = sum(
            1 for s in rooms.values() if (p := s.points.get("occupancy")) and p.value is True
        )
        stuffy = sum(
            1
            for s in rooms.values()
            if (p := s.points.get("co2")) and band("co2", p.value) >= Band.POOR
        )
        lights = sum(
            1
            for s in rooms.values()
            if (a := s.actuators.get("lights")) and (a.reported or a.value) is True
        )
        unacked = sum(1 for a in state.alarms if a.acknowledged_by is None)
        stale = sum(1 for s in rooms.values() if stale_points(s))
        gone = sum(1 for s in rooms.values() if offline(s))
        line = Text()
        line.append(f"rooms {len(state.rooms)}  ")
        line.append(f"occupied {occupied}  ")
        line.append(f"CO2>1000 {stuffy}  ", style="bold red" if stuffy else "")
        line.append(f"lights on {lights}  ")
        line.append(f"alarms {len(state.alarms)}", style="bold red" if unacked else "")
        line.append(f" ({unacked} new)  " if unacked else "  ")
        line.append(f"stale {stale}  ", style="magenta" if stale else "")
        line.append(f"offline {gone}", style="bold magenta" if gone else "")
        self.query_one("#meters", Static).update(line)

    def _filters(self) -> None:
        parts = [f"sort: {self.sort}"]
        if self.building is not None:
            parts.append(f"building: {self.building}")
        if self.kind is not None:
            parts.append(f"kind: {self.kind}")
        if self.search:
            parts.append(f"search: {self.search!r}")
        self.query_one("#filters", Static).update(Text(" · ".join(parts), style="dim"))

    def _current_room(self) -> str | None:
        return selected_key(self.query_one("#rooms", DataTable))

    # -- actions ---------------------------------------------------------------------------------

    def action_open(self) -> None:
        if self.query_one("#search", Input).has_focus:
            self._search_done()
            return
        room = self._current_room()
        if room is not None:
            self.post_message(OpenRoom(room))

    @on(DataTable.RowSelected, "#rooms")
    def _selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.post_message(OpenRoom(event.row_key.value))

    def action_search(self) -> None:
        field = self.query_one("#search", Input)
        field.display = True
        field.value = self.search
        field.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        self.redraw(DRAWN)

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one("#rooms", DataTable).focus()

    def action_clear(self) -> None:
        """Clear the search and filters; with none, back to the district view (if open)."""
        if not (self.search or self.building or self.kind) and self.campus_app.district_view:
            self.campus_app.action_district()
            return
        field = self.query_one("#search", Input)
        field.value = ""
        field.display = False
        self.search = ""
        self.building = None
        self.kind = None
        self.query_one("#rooms", DataTable).focus()
        self.redraw(DRAWN)

    def action_building(self) -> None:
        self.building = _next(self.building, list(self.state.buildings))
        self.redraw(DRAWN)

    def action_kind(self) -> None:
        kinds = list(dict.fromkeys(r.kind for r in self.state.rooms.values()))
        self.kind = _next(self.kind, kinds)
        self.redraw(DRAWN)

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.redraw(DRAWN)


def _next(current: str | None, choices: list[str]) -> str | None:
    """Cycle through None (all), then each choice."""
    if not choices:
        return None
    if current is None or current not in choices:
        return choices[0]
    index = choices.index(current) + 1
    return choices[index] if index < len(choices) else None
