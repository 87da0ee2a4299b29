"""The district: one row per school (tui.district's portfolio), sortable by any column, the
schools that need attention marked, and one alarm list across every school. `enter` follows a
school on the same broker (the bridges carry each school's control plane there) and opens its
views; `0` (or `escape` in its rooms view) comes back here.

The app tells the view what kinds of message came, at most every `TuiOptions.refresh` seconds,
and most of them change nothing it shows: an online school's heartbeat only says it is still
there. A redraw compares what it would show with what is on screen and writes only what
differs: a message that changes nothing shown costs no drawing. The portfolio is a `RowTable`
(tui/widgets/rowtable.py), which draws a school's row once per change of its cells: one
school's new figures draw its row alone, another order (a key, a new figure in the sort
column) puts the rows' kept lines in another order and draws none. The alarm list is a
DataTable kept with `show_rows`, the lines with `show_line`. A key (sort, reverse) redraws the
portfolio at once."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from campus.text import clock_text
from campus.wire import Alarm, Kind
from tui.district import COLUMNS, SORTS, School, school_cells, sorted_schools, trouble
from tui.screens.alarms import SEVERITY, alarm_state
from tui.screens.base import SiteScreen, footer, selected_key, show_rows
from tui.widgets.columns import Column
from tui.widgets.lines import show_line
from tui.widgets.rowtable import RowTable
from tui.widgets.statusbar import StatusBar

SCHOOL_COLUMNS = [
    Column("school", 12, grow=1, most=24),
    Column("link", 8),
    Column("controller", 10, grow=2, most=20),
    Column("rooms", 5),
    Column("in use", 6),
    Column("CO2≤1000", 8),
    Column("alarms", 9),
    Column("comfort", 7, wide=100),
    Column("worst room", 13, wide=100),
    Column("overrides", 9, wide=120),
    Column("kWh", 5, wide=120),
    Column("off-hours", 9, wide=140),
    Column("problems", 10, wide=140, grow=1),
    Column("CO2≤1400", 8, wide=180),
]
"""The portfolio's columns (tui.district.COLUMNS, in its order below 180 columns); the line
below the table gives the highlighted school in full."""
ALARM_COLUMNS = [
    Column("School", 10, grow=1, most=20),
    Column("Sev", 4),
    Column("Room", 14, grow=1, most=20),
    Column("Message", 20, grow=3),
    Column("Since", 5),
    Column("State", 9, grow=1, most=16),
]
DRAWN = frozenset({Kind.STATUS, Kind.BRIDGE, Kind.CONTROLLER, Kind.KPI, Kind.ALARMS})
AGES = 5.0
"""Seconds between redraws when nothing arrives (the link's "down for" moves on)."""


class DistrictScreen(SiteScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", priority=True, id="district.open"),
        Binding("s", "sort", "Sort", id="district.sort"),
        Binding("r", "reverse", "Reverse", id="district.reverse"),
        Binding("a", "acknowledge", "Ack", id="district.acknowledge"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sort = "CO2≤1000"
        self.reverse = False

    def compose(self) -> ComposeResult:
        yield StatusBar("district")
        yield Static(id="sorting")
        yield RowTable(SCHOOL_COLUMNS, id="schools")
        yield Static(id="alarms-summary")
        yield self.table("district-alarms", ALARM_COLUMNS)
        yield Static(id="detail")
        yield footer()

    def on_mount(self) -> None:
        self.query_one("#schools", RowTable).focus()
        self.set_interval(AGES, lambda: self._redraw(DRAWN), name="ages")

    @property
    def district(self) -> dict[str, School]:
        return self.campus_app.district.schools

    # -- drawing ---------------------------------------------------------------------------------

    def redraw(self, kinds: frozenset[Kind]) -> None:
        if not kinds & DRAWN:
            return
        self._schools()
        self._alarms()
        self._detail()

    def shown(self) -> list[School]:
        """The schools in the table's order."""
        return sorted_schools(self.campus_app.district, self.sort, reverse=self.reverse)

    def _schools(self) -> None:
        now = self.campus_app.district.monotonic()
        schools = self.shown()
        rows = []
        for school in schools:
            row = school_cells(school, now)
            if trouble(school):
                row["school"].style = "bold red"
                for cell in row.values():
                    cell.style = cell.style or "red"
            rows.append((school.site, row))
        self.query_one("#schools", RowTable).show(rows)
        order = "reversed" if self.reverse else "worst first"
        line = Text(f"{len(schools)} schools, by {self.sort} ({order})")
        marked = sum(1 for school in schools if trouble(school))
        if marked:
            line.append(f"; {marked} need attention", style="bold red")
        show_line(self.query_one("#sorting", Static), line)

    def alarms(self) -> list[tuple[School, Alarm]]:
        """Every school's alarms: new ones first, then by school and time."""
        found = [(s, a) for s in self.district.values() for a in s.alarms]
        found.sort(key=lambda sa: (sa[1].acknowledged_by is not None, sa[0].name, sa[1].first_seen))
        return found

    def _alarms(self) -> None:
        table: DataTable[Text] = self.query_one("#district-alarms", DataTable)
        found = self.alarms()
        show_rows(table, [(_key(s, a), self._alarm_cells(s, a)) for s, a in found])
        new = sum(1 for _, alarm in found if alarm.acknowledged_by is None)
        schools = len({school.site for school, _ in found})
        summary = (
            f"{len(found)} alarms in {schools} schools, {new} not acknowledged"
            if found
            else "no alarms in any school"
        )
        style = "bold red" if new else ""
        show_line(self.query_one("#alarms-summary", Static), Text(summary, style=style))

    def _alarm_cells(self, school: School, alarm: Alarm) -> dict[str, Text]:
        if alarm.acknowledged_by is not None:
            state = Text(f"✓ {alarm.acknowledged_by}", style="dim")
        elif alarm.active:
            state = Text("NEW", style="bold red")
        else:
            state = Text("cleared, new", style="yellow")
        return {
            "School": Text(school.name),
            "Sev": Text(alarm.severity[:4], style=SEVERITY.get(alarm.severity, "")),
            "Room": Text(alarm.room),
            "Message": Text(alarm.message, style="" if alarm.active else "dim"),
            "Since": Text(clock_text(alarm.first_seen, _timezone(school))),
            "State": state,
        }

    def _detail(self) -> None:
        """The focused table's highlighted row in full."""
        out = Text()
        if self.query_one("#district-alarms", DataTable).has_focus:
            picked = self.selected_alarm()
            if picked is not None:
                school, alarm = picked
                tz = _timezone(school)
                out.append(f"{school.name}, {alarm.room}: ", style="bold")
                out.append(f"{alarm.message}\n")
                out.append(
                    f"{alarm.severity}, rule {alarm.rule}, since "
                    f"{clock_text(alarm.first_seen, tz)}; {alarm_state(alarm, tz)}",
                    style="dim",
                )
        else:
            shown = self.selected_school()
            if shown is not None:
                self._school_detail(shown, out)
        show_line(self.query_one("#detail", Static), out)

    def _school_detail(self, school: School, out: Text) -> None:
        now = self.campus_app.district.monotonic()
        row = school_cells(school, now)
        out.append(f"{school.name} ({school.site}): ", style="bold")
        out.append("link ")
        out.append_text(row["link"])
        out.append(", controller ")
        out.append_text(row["controller"])
        kpi = school.kpi
        if kpi is not None:
            out.append(f", {kpi.rooms_in_use} of {kpi.rooms} rooms in use")
            if kpi.worst_room and kpi.worst_co2:
                out.append(f", worst {kpi.worst_room} at {kpi.worst_co2:.0f} ppm")
            out.append(", CO2 ≤1000/≤1400 ppm ")
            out.append_text(row["CO2≤1000"])
            out.append("/")
            out.append_text(row["CO2≤1400"])
            out.append(", comfort ")
            out.append_text(row["comfort"])
        if school.malformed:
            out.append(f", {school.malformed} unreadable messages", style="bold red")
        reasons = trouble(school)
        if reasons:
            out.append(f"\nneeds attention: {'; '.join(reasons)}", style="bold red")

    @on(DataTable.RowHighlighted)
    @on(RowTable.Highlighted)
    def _highlighted(self) -> None:
        self._detail()

    def on_descendant_focus(self) -> None:
        self._detail()

    # -- what is highlighted -------------------------------------------------------------------

    def selected_school(self) -> School | None:
        key = self.query_one("#schools", RowTable).cursor_key
        return None if key is None else self.district.get(key)

    def selected_alarm(self) -> tuple[School, Alarm] | None:
        key = selected_key(self.query_one("#district-alarms", DataTable))
        return next((sa for sa in self.alarms() if _key(*sa) == key), None)

    # -- actions ---------------------------------------------------------------------------------

    def action_sort(self) -> None:
        """The next column shown (worst first)."""
        shown = self.query_one("#schools", RowTable).labels
        labels = [label for label in COLUMNS if label in shown]
        self.sort = (
            labels[(labels.index(self.sort) + 1) % len(labels)]
            if self.sort in labels
            else labels[0]
        )
        self.reverse = False
        self._sorted()

    def action_reverse(self) -> None:
        self.reverse = not self.reverse
        self._sorted()

    @on(RowTable.HeaderSelected, "#schools")
    def _header(self, event: RowTable.HeaderSelected) -> None:
        label = event.label
        if label not in SORTS:
            return
        if label == self.sort:
            self.reverse = not self.reverse
        else:
            self.sort, self.reverse = label, False
        self._sorted()

    def _sorted(self) -> None:
        """Another order: the portfolio at once (the alarm list is not sorted by it)."""
        self._schools()
        self._detail()

    def action_open(self) -> None:
        if self.query_one("#district-alarms", DataTable).has_focus:
            picked = self.selected_alarm()
            if picked is not None:
                self.campus_app.open_site(picked[0].site, "alarms")
            return
        school = self.selected_school()
        if school is not None:
            self.campus_app.open_site(school.site)

    @on(DataTable.RowSelected)
    @on(RowTable.Selected)
    def _selected(self) -> None:
        self.action_open()

    def action_acknowledge(self) -> None:
        if not self.query_one("#district-alarms", DataTable).has_focus:
            self.notify("tab to the alarm list, then a acknowledges the highlighted alarm")
            return
        picked = self.selected_alarm()
        if picked is not None:
            school, alarm = picked
            self.acknowledge(school.site, alarm.id)

    @work(group="requests")
    async def acknowledge(self, site: str, alarm_id: str) -> None:
        body = {"alarm": alarm_id}
        if await self.campus_app.request("acknowledge", body, site=site) is not None:
            self.notify(f"{alarm_id} acknowledged in {site}")


def _key(school: School, alarm: Alarm) -> str:
    return f"{school.site} {alarm.id}"


def _timezone(school: School) -> str:
    info = school.controller
    return info.timezone if info is not None else "UTC"
