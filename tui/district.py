"""What a district knows of its schools, from the district broker's messages: one row each.

Each school's controllers (shards included) and its broker's bridge publish there
(docs/district.md); this keeps, per site, the controllers' status and messages, the bridge's
link state, the KPI messages, merged over shards (campus/wire.py), and the alarm lists, and
lays them out as the portfolio: its cells (`school_cells`, the TUI's district view and the
headless table draw the same), its orders (`SORTS`) and what makes a row need attention
(`trouble`). Pure logic: no Textual, no MQTT.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from campus import wire
from campus.text import age_text, clock_text
from campus.wire import Kind, parse_topic

KINDS = (Kind.STATUS, Kind.BRIDGE, Kind.CONTROLLER, Kind.KPI)
"""What the portfolio needs of each site (the rest is the site view's)."""
MAX_PAYLOAD = 64 * 1024
"""A larger message on a portfolio topic is not read (a KPI message is about 1 kB)."""
ALARMS_FILTER = f"{wire.PREFIX}/+/{Kind.ALARMS.value}/#"
"""Every school's alarm lists: the district view's one list of them."""
MAX_ALARMS_PAYLOAD = 1024 * 1024
"""A larger alarm list is not read (an alarm is about 300 bytes)."""
LOW_COMPLIANCE = 0.8
"""A school whose share of occupied minutes with CO2 <= 1000 ppm is below this needs
attention."""


def filters() -> list[str]:
    """The district broker's topics the portfolio subscribes to."""
    return [f"{wire.PREFIX}/+/{kind.value}/#" for kind in KINDS]


@dataclass
class School:
    """One site as the district sees it."""

    site: str
    statuses: dict[str, bool] = field(default_factory=dict)
    controllers: dict[str, wire.ControllerMessage] = field(default_factory=dict)
    kpis: dict[str, wire.KpiMessage] = field(default_factory=dict)
    link: bool | None = None
    """The school broker's bridge: None until its notification is seen."""
    link_changed: float | None = None
    """`monotonic()` when the link state last changed."""
    heard: float | None = None
    """`monotonic()` when a controller message last came."""
    malformed: int = 0
    """Messages of this site that could not be read: not JSON, not an object, too large, or
    naming another site."""
    alarm_lists: dict[str, list[wire.Alarm]] = field(default_factory=dict)
    """Each retained alarm list by its topic's rest (a shard's name, or ``""``)."""

    @property
    def name(self) -> str:
        info = self.controller
        return info.name if info is not None and info.name else self.site

    @property
    def alarms(self) -> list[wire.Alarm]:
        return [alarm for kept in self.alarm_lists.values() for alarm in kept]

    @property
    def online(self) -> bool | None:
        return all(self.statuses.values()) if self.statuses else None

    @property
    def controller(self) -> wire.ControllerMessage | None:
        return wire.merge_controllers(list(self.controllers.values()))

    @property
    def kpi(self) -> wire.KpiMessage | None:
        return wire.merge_kpis(list(self.kpis.values()))


@dataclass
class DistrictState:
    """Every school seen on the district broker, by site id."""

    schools: dict[str, School] = field(default_factory=dict)
    monotonic: Callable[[], float] = time.monotonic

    def apply_raw(self, topic: str, raw: bytes) -> str | None:
        """Take one message as it came from the broker: decoded here, and counted on its
        school's row when it cannot be read (other schools are unaffected)."""
        parsed = parse_topic(topic)
        if parsed is None or parsed.kind not in (*KINDS, Kind.ALARMS) or not raw:
            return None  # not the portfolio's, or a retained message cleared
        if parsed.kind in (Kind.STATUS, Kind.BRIDGE) and len(raw) <= MAX_PAYLOAD:
            return self.apply(topic, raw.decode("utf-8", errors="replace"))
        payload: Any = None
        if len(raw) <= (MAX_ALARMS_PAYLOAD if parsed.kind is Kind.ALARMS else MAX_PAYLOAD):
            try:
                payload = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                payload = None
        if not isinstance(payload, dict) or payload.get("site", parsed.site) != parsed.site:
            self._school(parsed.site).malformed += 1
            return parsed.site
        return self.apply(topic, payload)

    def apply(self, topic: str, payload: Any) -> str | None:
        """Take one message (JSON parsed; status and bridge payloads as text); the site it
        changed, or None."""
        parsed = parse_topic(topic)
        if parsed is None or parsed.kind not in (*KINDS, Kind.ALARMS):
            return None
        school = self._school(parsed.site)
        kind, rest = parsed.kind, parsed.rest
        if kind is Kind.STATUS:
            school.statuses[rest] = str(payload).strip() == "online"
        elif kind is Kind.BRIDGE:
            link = str(payload).strip() == "1"
            if link != school.link:
                school.link, school.link_changed = link, self.monotonic()
        elif not isinstance(payload, dict):
            return None
        elif kind is Kind.CONTROLLER:
            school.controllers[rest] = wire.decode(wire.ControllerMessage, payload)
            school.heard = self.monotonic()
        elif kind is Kind.ALARMS:
            school.alarm_lists[rest] = wire.decode(wire.AlarmsMessage, payload).alarms
        else:
            school.kpis[rest] = wire.decode(wire.KpiMessage, payload)
        return parsed.site

    def _school(self, site: str) -> School:
        school = self.schools.get(site)
        if school is None:
            school = self.schools[site] = School(site)
        return school


def trouble(school: School) -> list[str]:
    """Why a school's row is marked: its link down, its controller offline, CO2 compliance
    below `LOW_COMPLIANCE`."""
    out = []
    if school.link is False:
        out.append("link down")
    if school.online is False:
        out.append("controller offline")
    kpi = school.kpi
    share = kpi.co2_within_1000 if kpi is not None else None
    if share is not None and share < LOW_COMPLIANCE:
        out.append(f"CO2 <= 1000 ppm only {share:.0%} of occupied time")
    return out


def _share(value: float | None) -> Text:
    if value is None:
        return Text("-", style="dim")
    style = "green" if value >= 0.95 else "yellow" if value >= LOW_COMPLIANCE else "bold red"
    return Text(f"{value:.0%}", style=style)


def link_text(school: School, now: float) -> Text:
    """``up``, ``DOWN 12m`` (for how long), or ``?`` before the bridge's notification."""
    if school.link is None:
        return Text("?", style="dim")
    if school.link:
        return Text("up", style="green")
    since = "" if school.link_changed is None else f" {age_text(now - school.link_changed)}"
    return Text(f"DOWN{since}", style="bold red")


def controller_text(school: School) -> Text:
    """``online``, ``OFFLINE (last 10:42)`` (its last clock), or ``?`` before its status; the
    controllers' messages are merged only for an offline school (every redraw asks)."""
    if school.online is False:
        info = school.controller
        last = clock_text(info.now, info.timezone, "%H:%M") if info else "?"
        return Text(f"OFFLINE (last {last})", style="bold red")
    if school.online is None:
        return Text("?", style="dim")
    return Text("online", style="green")


COLUMNS = (
    "school", "link", "controller", "rooms", "in use", "CO2≤1000", "CO2≤1400", "comfort",
    "worst room", "alarms", "overrides", "kWh", "off-hours", "problems",
)  # fmt: skip
RIGHT = frozenset({"rooms", "in use", "CO2≤1000", "CO2≤1400", "comfort", "alarms", "overrides",
                   "kWh", "off-hours"})  # fmt: skip


def school_cells(school: School, now: float) -> dict[str, Text]:
    """A school's row by column (`COLUMNS`); `now` is `DistrictState.monotonic()`."""
    kpi = school.kpi
    cells = {label: Text("-", style="dim") for label in COLUMNS}
    cells["school"] = Text(school.name)
    cells["link"] = link_text(school, now)
    cells["controller"] = controller_text(school)
    cells["problems"] = Text(
        f"{school.malformed} unreadable" if school.malformed else "", style="bold red"
    )
    if kpi is None:
        return cells
    alarms = sum(kpi.alarms.values())
    worst = f"{kpi.worst_room} {kpi.worst_co2:.0f}" if kpi.worst_room and kpi.worst_co2 else "-"
    old = f" ({kpi.overrides_over_4h} >4h)" if kpi.overrides_over_4h else ""
    cells.update(
        {
            "rooms": Text(str(kpi.rooms)),
            "in use": Text(str(kpi.rooms_in_use)),
            "CO2≤1000": _share(kpi.co2_within_1000),
            "CO2≤1400": _share(kpi.co2_within_1400),
            "comfort": _share(kpi.temperature_comfort),
            "worst room": Text(worst),
            "alarms": Text(
                f"{alarms} ({kpi.alarms_unacknowledged} new)", style="red" if alarms else ""
            ),
            "overrides": Text(f"{kpi.overrides}{old}"),
            "kWh": Text(f"{kpi.lights_kwh + kpi.ventilation_kwh:.1f}"),
            "off-hours": Text(f"{kpi.outside_timetable_kwh:.1f}"),
        }
    )
    return cells


def _kpi(get: Callable[[wire.KpiMessage], float | None], sign: int = 1) -> Sort:
    def key(school: School) -> tuple[int, float]:
        kpi = school.kpi
        value = get(kpi) if kpi is not None else None
        return (1, 0.0) if value is None else (0, sign * value)

    return key


def _state(up: bool | None) -> tuple[int, float]:
    return (0, 0.0 if up is False else 2.0 if up else 1.0)


Sort = Callable[[School], tuple[int, float]]
SORTS: dict[str, Sort] = {
    "school": lambda school: (0, 0.0),
    "link": lambda school: _state(school.link),
    "controller": lambda school: _state(school.online),
    "rooms": _kpi(lambda k: k.rooms, -1),
    "in use": _kpi(lambda k: k.rooms_in_use, -1),
    "CO2≤1000": _kpi(lambda k: k.co2_within_1000),
    "CO2≤1400": _kpi(lambda k: k.co2_within_1400),
    "comfort": _kpi(lambda k: k.temperature_comfort),
    "worst room": _kpi(lambda k: k.worst_co2, -1),
    "alarms": _kpi(lambda k: sum(k.alarms.values()), -1),
    "overrides": _kpi(lambda k: k.overrides, -1),
    "kWh": _kpi(lambda k: k.lights_kwh + k.ventilation_kwh, -1),
    "off-hours": _kpi(lambda k: k.outside_timetable_kwh, -1),
    "problems": lambda school: (0, -school.malformed),
}
"""Each column's order, worst (or most) first: the lowest compliance, the link or controller
down, the most rooms, alarms or energy; schools without a figure last."""


def sorted_schools(
    state: DistrictState, column: str = "CO2≤1000", *, reverse: bool = False
) -> list[School]:
    """The schools in `column`'s order (`SORTS`), by name within a tie; `reverse` turns the
    order round, schools without a figure staying last."""
    key = SORTS[column]
    schools = sorted(state.schools.values(), key=lambda s: (s.name.lower(), s.site))
    schools.sort(key=key)
    if not reverse:
        return schools
    known = [school for school in schools if key(school)[0] == 0]
    return known[::-1] + schools[len(known) :]


def portfolio_table(state: DistrictState, title: str = "District") -> Table:
    """One row per school, worst CO2 compliance first: link, controller, rooms in use, CO2 and
    temperature compliance today, the worst room, alarms, overrides, energy today."""
    now = state.monotonic()
    table = Table(title=title, expand=False)
    for header in COLUMNS:
        table.add_column(header, justify="right" if header in RIGHT else "left", no_wrap=True)
    for school in sorted_schools(state):
        cells = school_cells(school, now)
        table.add_row(*(cells[label] for label in COLUMNS))
    return table
