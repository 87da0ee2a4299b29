"""examples/grafana/campus.json: every panel's InfluxQL, run on InfluxDB 1.6.7 against what the
writer wrote, returns the rows a person looking at the dashboard should see."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from campus.model import Campus
from campus.types import Command, Reading
from controller.history.settings import HistorySettings
from rules.alarms import Alarm
from rules.events import AlarmChanged
from tests.history import grafana
from tests.history.helpers import recording, settled
from tests.support.influx import InfluxV1

pytestmark = pytest.mark.influxdb

START = 1_794_999_600.0
"""2026-11-18 10:00:00 UTC: an hour boundary, so 5-minute buckets start on the minute."""
END = START + 3599
"""The dashboard's "now": the hour's last second."""
LIGHTS_RULE = "rule:lights-on-when-occupied-and-dark"


def minute(m: float) -> float:
    return START + 60 * m


def sensors(m: int) -> list[list[Reading]]:
    """What the rooms' devices report at minute `m` (every device reports every minute), one
    message per room."""
    t = minute(m)
    r101 = {"co2": 600.0 if m < 30 else 1200.0, "occupancy": m >= 10, "illuminance": 150.0,
            "lights": m >= 10}  # fmt: skip
    r102 = {"co2": 800.0, "occupancy": False, "illuminance": 400.0, "lights": False}
    r201 = {"co2": 1100.0 if m < 40 else 900.0, "occupancy": True, "illuminance": 100.0,
            "lights": True}  # fmt: skip
    return [
        [Reading(f"{room}.{name}", value, t) for name, value in values.items()]
        for room, values in (("main.r101", r101), ("main.r102", r102), ("annex.r201", r201))
    ]


def alarm(room: str, first: float, last: float, active: bool, by: str | None = None) -> Alarm:
    return Alarm(f"co2-alarm@{room}", "co2-alarm", room, "warning", f"CO2 high in {room}",
                 first, last, active, by, None if by is None else minute(46))  # fmt: skip


async def school_hour(campus: Campus, settings: HistorySettings) -> None:
    async with recording(campus, settings, start=START) as (controller, historian, _):
        for m in range(60):
            controller.handle(sensors(m))
            if m == 0:
                controller.send([Command("annex.r201.lights", True, minute(0), LIGHTS_RULE, 10,
                                         "occupancy and illuminance < 300")])  # fmt: skip
            if m == 10:
                controller.send([Command("main.r101.lights", True, minute(10), LIGHTS_RULE, 10,
                                         "occupancy and illuminance < 300")])  # fmt: skip
            if m == 20:
                controller.bus.emit(AlarmChanged(alarm("annex.r201", minute(20), minute(20), True)))
            if m == 45:
                controller.bus.emit(
                    AlarmChanged(alarm("annex.r201", minute(20), minute(45), False))
                )
            if m == 46:
                cleared = alarm("annex.r201", minute(20), minute(45), False, "kari")
                controller.bus.emit(AlarmChanged(cleared))
            if m == 50:
                controller.bus.emit(AlarmChanged(alarm("main.r101", minute(50), minute(50), True)))
        await settled(historian)


EXPECTED: dict[str, list[dict[str, Any]]] = {
    "Rooms over 1000 ppm CO2": [{"count": 1}],
    "Rooms occupied": [{"count": 2}],
    "Lights on": [{"count": 2}],
    "Active alarms": [{"count": 1}],
    "CO2": [{"mean": 600.0}] * 6 + [{"mean": 1200.0}] * 6,
    "Illuminance": [{"mean": 150.0}] * 12,
    "Occupancy": [{"max": 0.0}] * 2 + [{"max": 1.0}] * 10,
    "Commands": [
        {"actuator": "lights", "value": 1.0, "level": "comfort", "by": LIGHTS_RULE,
         "reason": "occupancy and illuminance < 300"},
    ],
    "Alarm events": [
        {"building": "main", "room": "r101", "event": "raised", "by": ""},
        {"building": "annex", "room": "r201", "event": "acknowledged", "by": "kari"},
        {"building": "annex", "room": "r201", "event": "cleared", "by": ""},
        {"building": "annex", "room": "r201", "event": "raised", "by": ""},
    ],
}  # fmt: skip
"""Per panel: its rows (only the columns named; ``time`` is checked separately)."""


def test_every_panel_shows_what_happened_in_the_school_hour(
    influx1: InfluxV1,
    make_campus: Callable[..., Campus],
    settings_for: Callable[..., HistorySettings],
) -> None:
    influx1.create_database("dashboard")
    settings = settings_for(influx1.url, api_version=1, bucket="dashboard", token=influx1.token)
    asyncio.run(school_hour(make_campus("dash"), settings))

    dashboard = grafana.load()
    panels = grafana.panels(dashboard)
    assert set(panels) == set(EXPECTED), "a panel without expected rows (or one missing)"
    values = {"site": "dash", "building": "main", "room": "r101"}
    for title, expected in EXPECTED.items():
        rows = grafana.run_panel(
            influx1, "dashboard", panels[title], end=END, span=END - START, values=values
        )
        got = [{k: row.get(k) for k in want} for row, want in zip(rows, expected, strict=False)]
        assert (len(rows), got) == (len(expected), expected), title
    co2 = grafana.run_panel(
        influx1, "dashboard", panels["CO2"], end=END, span=END - START, values=values
    )
    assert [row["time"] for row in co2] == [START + 300 * i for i in range(12)]
    events = grafana.run_panel(
        influx1, "dashboard", panels["Alarm events"], end=END, span=END - START, values=values
    )
    assert [row["time"] for row in events] == [minute(50), minute(46), minute(45), minute(20)]


def test_the_variables_list_sites_buildings_and_rooms(influx1: InfluxV1) -> None:
    influx1.create_database("dashboard_vars")
    influx1.http(
        "POST",
        "/write?db=dashboard_vars",
        b"co2,site=dash,building=main,room=r101,source=mqtt value=500 1795000000000000000\n"
        b"co2,site=dash,building=main,room=r102,source=mqtt value=500 1795000000000000000\n"
        b"occupancy,site=dash,building=annex,room=r201,source=mqtt value=1 1795000000000000000\n"
        b"co2,site=other,building=north,room=n1,source=mqtt value=500 1795000000000000000",
        auth=(influx1.user, influx1.password),
    )
    queries = grafana.variables(grafana.load())
    values = {"site": "dash", "building": "main"}

    def listed(name: str) -> list[str]:
        query = grafana.render(queries[name], 0, 0, values, "1m")
        series = influx1.query(query, "dashboard_vars")[0]["series"]
        return sorted({v[1] for s in series for v in s["values"]})  # Grafana lists each once

    assert listed("site") == ["dash", "other"]
    assert listed("building") == ["annex", "main"]
    assert listed("room") == ["r101", "r102"]
