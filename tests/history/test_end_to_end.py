"""The whole path on real servers: simulated rooms (MQTT) -> controller -> InfluxDB 1.6.7 (API
v1) -> the dashboard's queries, which must show what the controller itself saw and did."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from campus.types import Command, Reading
from controller.events import Readings
from controller.history.settings import HistoryOptions
from controller.runtime import Controller
from controller.service import ServiceOptions, build_controller
from rules.events import AlarmChanged, Transition
from rules.loader import load_rules
from simulators.mqtt import SimulatorRunner
from simulators.world import World
from tests.history import grafana
from tests.support.influx import InfluxV1
from tests.support.mosquitto import Broker

pytestmark = [pytest.mark.influxdb, pytest.mark.mqtt]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MONDAY = "2026-11-23 07:55"
"""Dark in Oslo; the first lesson starts at 08:15."""
SPEED = 600.0
DURATION = 80 * 60
"""Simulated seconds: the first lesson and the break after it."""


def test_the_dashboard_shows_what_the_controller_saw_and_did(
    fresh_broker: Broker, influx1: InfluxV1, tmp_path: Path
) -> None:
    influx1.create_database("e2e")
    token = tmp_path / "influx-token"
    token.write_text(influx1.token)
    history = HistoryOptions(
        url=influx1.url, api_version=1, bucket="e2e", token_file=token, spool=tmp_path / "spool"
    )
    campus = load_campus(EXAMPLES / "campus.yaml")
    ruleset = load_rules([EXAMPLES / "rules"], campus)
    assert ruleset.rules, ruleset.problems
    start = parse_start(MONDAY, campus.site.timezone)
    clock = ScaledClock(start, SPEED)
    options = ServiceOptions(
        broker_url=fresh_broker.url, client_id="e2e-history", watch_rules=0, history=history
    )
    controller = build_controller(campus, ruleset, clock, options)
    alarms: list[AlarmChanged] = []
    transitions: list[Transition] = []
    sent: list[Command] = []
    seen: dict[str, list[float]] = {}
    controller.bus.subscribe(AlarmChanged, alarms.append)
    controller.bus.subscribe(Transition, transitions.append)
    controller.bus.subscribe(Command, sent.append)
    controller.bus.subscribe(
        Readings, lambda batch: [_note(seen, r) for m in batch.messages for r in m]
    )
    simulator = SimulatorRunner(
        World(campus, seed=3, start=start), clock, parse_broker_url(fresh_broker.url), step=5.0
    )
    end = asyncio.run(_run(controller, simulator, clock, start + DURATION))

    panels = grafana.panels(grafana.load())

    def show(title: str, **values: str) -> list[dict[str, Any]]:
        values = {"site": campus.site.id, **values}
        return grafana.run_panel(
            influx1, "e2e", panels[title], end=end, span=end - start, values=values
        )

    def count(title: str) -> int:
        rows = show(title)
        return int(rows[0]["count"]) if rows else 0

    # The last good value of each point (the simulator's devices say "offline" as it stops).
    last = {point: values[-1] for point, values in seen.items()}
    rooms = [room.id for room in campus.rooms]
    over = [r for r in rooms if last.get(f"{r}.co2", 0) > 1000]
    occupied = [r for r in rooms if last.get(f"{r}.occupancy") == 1]
    lit = [r for r in rooms if last.get(f"{r}.lights") == 1]
    assert occupied, "nobody came to school: the scenario shows nothing"
    assert lit, "no lights on in a dark November morning: the scenario shows nothing"
    assert count("Rooms over 1000 ppm CO2") == len(over)
    assert count("Rooms occupied") == len(occupied)
    assert count("Lights on") == len(lit)
    last_event = {e.alarm.id: e.alarm.active for e in alarms}
    assert count("Active alarms") == sum(last_event.values())
    assert len(show("Alarm events")) == len(alarms)
    recorded = influx1.rows('SELECT "rule", "state", "from" FROM "rule"', "e2e")
    assert transitions, "no rule changed state"
    assert sorted((r["rule"], r["from"], r["state"]) for r in recorded) == sorted(
        (t.rule, t.old_state, t.new_state) for t in transitions
    )

    for room in campus.rooms:
        building, key = room.id.split(".")
        mine = [c for c in sent if c.actuator.startswith(room.id + ".")]
        commands = show("Commands", building=building, room=key)
        assert [(c["actuator"], c["value"], c["by"], c["reason"]) for c in commands] == [
            _row(c) for c in reversed(mine)
        ], room.id
        occupancy = {r["max"] for r in show("Occupancy", building=building, room=key)}
        assert occupancy - {None} == set(seen[f"{room.id}.occupancy"]), room.id
        if "co2" in room.points:
            co2 = [r["mean"] for r in show("CO2", building=building, room=key)]
            values = seen[f"{room.id}.co2"]
            assert co2.count(None) <= 1, f"{room.id}: CO2 has gaps: {co2}"
            assert all(min(values) <= v <= max(values) for v in co2 if v is not None), room.id


def test_the_demo_command_records_to_influxdb_1(
    fresh_broker: Broker, influx1: InfluxV1, tmp_path: Path
) -> None:
    influx1.create_database("demo")
    token = tmp_path / "influx-token"
    token.write_text(influx1.token)
    argv = [
        sys.executable, "-m", "controller.cli", "--log-level", "warning", "demo", "--headless",
        "--duration", "6", "--speed", "600", "--start", MONDAY, "--broker", fresh_broker.url,
        "--state", str(tmp_path / "state.sqlite"),
        "--influx-url", influx1.url, "--influx-api-version", "1", "--influx-bucket", "demo",
        "--influx-token-file", str(token),
    ]  # fmt: skip
    env = {**os.environ, "INFLUX_TOKEN": "not-this-one"}
    done = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "unavailable" not in done.stderr, done.stderr
    campus = load_campus(EXAMPLES / "campus.yaml")
    rows = influx1.rows('SELECT last("value") FROM "occupancy" GROUP BY "building", "room"', "demo")
    assert {f"{r['building']}.{r['room']}" for r in rows} == {r.id for r in campus.rooms}
    commands = influx1.rows('SELECT count("value") FROM "command"', "demo")
    assert commands
    assert commands[0]["count"] > 0
    assert (tmp_path / "history-spool-demo.sqlite").exists(), "the spool sits beside --state"


async def _run(
    controller: Controller, simulator: SimulatorRunner, clock: ScaledClock, until: float
) -> float:
    tasks = [asyncio.create_task(controller.run()), asyncio.create_task(simulator.run())]
    deadline = time.monotonic() + (until - clock.now()) / clock.speed * 4 + 30
    try:
        while clock.now() < until:
            assert time.monotonic() < deadline, "the scenario did not finish in time"
            for task in tasks:
                if task.done():
                    task.result()
            await asyncio.sleep(0.05)
    finally:
        simulator.stop()
        tasks[0].cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return clock.now()


def _row(command: Command) -> tuple[str, float, str, str]:
    return command.actuator.rpartition(".")[2], float(command.value), command.source, command.reason


def _note(seen: dict[str, list[float]], reading: Reading) -> None:
    if reading.value is not None:
        seen.setdefault(reading.point, []).append(float(reading.value))
