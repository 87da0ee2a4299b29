"""What a district knows of its schools, from the district broker's messages: one row each.

Each school's controllers (shards included) and its broker's bridge publish there
(docs/district.md); this keeps, per site, the controllers' status and messages, the bridge's
link state and the KPI messages, merged over shards (campus/wire.py), and lays them out as
the portfolio table. Pure logic: no Textual, no MQTT.
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
from campus.text import clock_text
from campus.wire import Kind, parse_topic

KINDS = (Kind.STATUS, Kind.BRIDGE, Kind.CONTROLLER, Kind.KPI)
"""What the portfolio needs of each site (the rest is the site view's)."""
MAX_PAYLOAD = 64 * 1024
"""A larger message on a portfolio topic is not read (a KPI message is about 1 kB)."""


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
        if parsed is None or parsed.kind not in KINDS or not raw:
            return None  # not the portfolio's, or a retained message cleared
        if parsed.kind in (Kind.STATUS, Kind.BRIDGE) and len(raw) <= MAX_PAYLOAD:
            return self.apply(topic, raw.decode("utf-8", errors="replace"))
        payload: Any = None
        if len(raw) <= MAX_PAYLOAD:
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
        if parsed is None or parsed.kind not in KINDS:
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
        else:
            school.kpis[rest] = wire.decode(wire.KpiMessage, payload)
        return parsed.site

    def _school(self, site: str) -> School:
        school = self.schools.get(site)
        if school is None:
            school = self.schools[site] = School(site)
        return school


def _share(value: float | None) -> Text:
    if value is None:
        return Text("-", style="dim")
    style = "green" if value >= 0.95 else "yellow" if value >= 0.8 else "bold red"
    return Text(f"{value:.0%}", style=style)


def _link(school: School, now: float) -> Text:
    if school.link is None:
        return Text("?", style="dim")
    if school.link:
        return Text("up", style="green")
    since = "" if school.link_changed is None else f" {now - school.link_changed:.0f}s"
    return Text(f"DOWN{since}", style="bold red")


def _controller(school: School) -> Text:
    info = school.controller
    if school.online is False:
        last = clock_text(info.now, info.timezone, "%H:%M") if info else "?"
        return Text(f"OFFLINE (last {last})", style="bold red")
    if school.online is None:
        return Text("?", style="dim")
    return Text("online", style="green")


def portfolio_table(state: DistrictState, title: str = "District") -> Table:
    """One row per school, worst CO2 compliance first: link, controller, rooms in use, CO2 and
    temperature compliance today, the worst room, alarms, overrides, energy today."""
    now = state.monotonic()
    table = Table(title=title, expand=False)
    for header, justify in (
        ("school", "left"), ("link", "left"), ("controller", "left"), ("rooms", "right"),
        ("in use", "right"), ("CO2≤1000", "right"), ("CO2≤1400", "right"),
        ("comfort", "right"), ("worst room", "left"), ("alarms", "right"),
        ("overrides", "right"), ("kWh", "right"), ("off-hours", "right"), ("problems", "left"),
    ):  # fmt: skip
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]

    def order(school: School) -> tuple[float, str]:
        kpi = school.kpi
        share = kpi.co2_within_1000 if kpi and kpi.co2_within_1000 is not None else 2.0
        return (share, school.site)

    for school in sorted(state.schools.values(), key=order):
        kpi, info = school.kpi, school.controller
        name = info.name if info and info.name else school.site
        problems = Text(
            f"{school.malformed} unreadable" if school.malformed else "", style="bold red"
        )
        if kpi is None:
            table.add_row(name, _link(school, now), _controller(school), *["-"] * 10, problems)
            continue
        alarms = sum(kpi.alarms.values())
        worst = f"{kpi.worst_room} {kpi.worst_co2:.0f}" if kpi.worst_room and kpi.worst_co2 else "-"
        old = f" ({kpi.overrides_over_4h} >4h)" if kpi.overrides_over_4h else ""
        table.add_row(
            name,
            _link(school, now),
            _controller(school),
            str(kpi.rooms),
            str(kpi.rooms_in_use),
            _share(kpi.co2_within_1000),
            _share(kpi.co2_within_1400),
            _share(kpi.temperature_comfort),
            worst,
            Text(f"{alarms} ({kpi.alarms_unacknowledged} new)", style="red" if alarms else ""),
            f"{kpi.overrides}{old}",
            f"{kpi.lights_kwh + kpi.ventilation_kwh:.1f}",
            f"{kpi.outside_timetable_kwh:.1f}",
            problems,
        )
    return table
