"""The site's KPIs (controller.kpi): counting pure on made-up minutes, the state file keeping
the days, and a running controller publishing them on a real broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

from campus import wire
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from campus.model import Campus
from campus.types import Value
from controller.kpi import DAYS_KEPT, LIGHTS_W_PER_M2, VENTILATION_W, Day, Kpi, KpiTracker
from controller.service import ServiceOptions, build_controller
from controller.state import StateStore
from rules.schema import RuleSet
from tests.campus.test_wire import validator
from tests.controlplane.harness import PlaneClient, running_campus
from tests.support.aio import run_async
from tests.support.campus_yaml import one_lesson_campus
from tests.support.mosquitto import Broker, free_port
from tests.support.waiting import wait_for

MONDAY_0815 = parse_start("2026-11-23 08:15", "Europe/Oslo")
"""The lesson (08:15-09:00 on weekdays) begins."""


def campus_of(tmp_path: Path) -> Campus:
    path = tmp_path / "campus.yaml"
    path.write_text(
        one_lesson_campus(
            "kpi",
            "KPI School",
            """\
buildings:
  - id: b1
    rooms:
      - {id: r101, kind: classroom, capacity: 28, area: 60}
      - {id: r102, kind: classroom, capacity: 28}
""",
        ).replace(
            "co2: {unit: ppm",
            "temperature: {unit: °C, stale_after: 10m, mqtt: *ms}\n      co2: {unit: ppm",
        )
    )
    return load_campus(path)


def run(
    tracker: KpiTracker,
    start: float,
    minutes: int,
    values: dict[str, Value],
    actuators: dict[str, Value],
) -> Day:
    day = None
    for n in range(minutes):
        day = tracker.sample(start + 60 * n, values.get, actuators.get)
    assert day is not None
    return day


def test_compliance_and_energy_of_a_lesson_and_the_half_hour_after(tmp_path: Path) -> None:
    campus = campus_of(tmp_path)
    tracker = KpiTracker(campus, campus.rooms)
    lit = {"b1.r101.lights": True, "b1.r101.ventilation": 50.0, "b1.r102.lights": True}
    # r101 occupied: 15 min at 900 ppm, 30 at 1200 (the lesson); r102 empty, lights left on
    busy = {"b1.r101.occupancy": True, "b1.r101.co2": 900.0, "b1.r101.temperature": 21.0,
            "b1.r102.occupancy": False, "b1.r102.co2": 450.0}  # fmt: skip
    run(tracker, MONDAY_0815, 15, busy, lit)
    run(tracker, MONDAY_0815 + 15 * 60, 30, {**busy, "b1.r101.co2": 1200.0}, lit)
    # after the lesson (outside the timetable): r101 empty and lights still on everywhere
    day = run(tracker, MONDAY_0815 + 45 * 60, 30, {**busy, "b1.r101.occupancy": False}, lit)
    assert day.day == "2026-11-23"
    assert day.occupied_minutes == 45
    assert (day.co2_minutes, day.co2_within_1000_minutes, day.co2_within_1400_minutes) == (
        45,
        15,
        45,
    )
    assert (day.temperature_minutes, day.temperature_comfort_minutes) == (45, 45)
    r101_lights = LIGHTS_W_PER_M2 * 60  # 480 W (60 m²)
    r102_lights = 400.0  # no area: the default
    hours = 75 / 60
    assert sum(day.lights_wh) == pytest.approx((r101_lights + r102_lights) * hours)
    assert sum(day.ventilation_wh) == pytest.approx(VENTILATION_W * 0.5 * hours)
    outside = (r101_lights + r102_lights + VENTILATION_W * 0.5) * 30 / 60
    assert day.outside_wh == pytest.approx(outside)
    assert tracker.worst == ("b1.r101", 900.0)
    assert tracker.in_use == 0


def test_a_new_day_starts_at_local_midnight_and_last_week_is_by_the_same_time(
    tmp_path: Path,
) -> None:
    campus = campus_of(tmp_path)
    before = Day("2026-11-16", lights_wh=[0.0] * 8 + [100.0, 60.0] + [0.0] * 14)
    tracker = KpiTracker(campus, campus.rooms, {before.day: before})
    last = tracker.last_week(MONDAY_0815 + 45 * 60)  # 09:00
    assert last is before
    assert last.by(last.lights_wh, 9, 30) == pytest.approx(130.0)
    late = parse_start("2026-11-23 23:59", "Europe/Oslo")
    assert tracker.sample(late, {}.get, {}.get).day == "2026-11-23"
    assert tracker.sample(late + 60, {}.get, {}.get).day == "2026-11-24"
    assert set(tracker.days) == {"2026-11-16", "2026-11-23", "2026-11-24"}


def test_the_state_file_keeps_the_last_days(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.sqlite", "kpi")
    try:
        for n in range(DAYS_KEPT + 3):
            day = Day(f"2026-11-{n + 1:02d}", occupied_minutes=n)
            store.save_day(day.day, day.to_json(), DAYS_KEPT)
        days = store.load_days()
        assert len(days) == DAYS_KEPT
        assert Day.from_json(days["2026-11-11"]) == Day("2026-11-11", occupied_minutes=10)
    finally:
        store.close()


@pytest.mark.mqtt
@run_async
async def test_a_running_controller_publishes_its_kpis(broker: Broker, tmp_path: Path) -> None:
    on_bus: list[wire.KpiMessage] = []
    async with running_campus(broker, tmp_path, speed=60.0) as campus:
        campus.controller.bus.subscribe(wire.KpiMessage, on_bus.append)
        client = PlaneClient(broker, campus.site)
        try:
            await wait_for(lambda: client.latest("kpi"), "the KPI message", 20)
            first = client.latest("kpi")
            await wait_for(lambda: client.latest("kpi")["ts"] > first["ts"], "the next minute")
            data = client.latest("kpi")
        finally:
            client.close()
    validator(wire.KpiMessage).validate(data)
    message = wire.decode(wire.KpiMessage, data)
    assert json.loads(wire.encode(message)) == data
    assert message in on_bus, "the message published is the one on the bus (for the historian)"
    assert message.rooms == len(campus.campus.rooms)
    assert message.ts - first["ts"] == pytest.approx(60.0)
    assert message.lights_kwh >= 0
    assert message.worst_room in {r.id for r in campus.campus.rooms}


@run_async
async def test_the_kpis_go_on_the_bus_every_minute_while_the_broker_is_away(
    tmp_path: Path,
) -> None:
    campus = campus_of(tmp_path)
    clock = ScaledClock(MONDAY_0815, 600.0)
    options = ServiceOptions(broker_url=f"mqtt://127.0.0.1:{free_port()}", watch_rules=0)
    controller = build_controller(campus, RuleSet(), clock, options)
    on_bus: list[wire.KpiMessage] = []
    controller.bus.subscribe(wire.KpiMessage, on_bus.append)
    task = asyncio.create_task(controller.run())
    try:
        await wait_for(lambda: len(on_bus) >= 3, "three minutes of KPIs", 20)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    kpi = next(e for e in controller.extensions if isinstance(e, Kpi))
    assert kpi.published == 0
    assert [m.ts - on_bus[0].ts for m in on_bus[:3]] == [0.0, 60.0, 120.0]
    assert {m.site for m in on_bus} == {"kpi"}
