"""Simulated classrooms drive the controller end to end on a real Mosquitto.

The simulator (devices speaking Zigbee2MQTT JSON) and the controller share one accelerated
clock, so a school morning takes seconds. What is checked is what a school would check: lights
come on when a class arrives in a dark room and go off after it leaves, ventilation starts when
CO2 rises and the simulated CO2 then falls, and rooms nobody uses are never lit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from controller.service import ServiceOptions, build_controller
from rules.loader import load_rules
from simulators.mqtt import SimulatorRunner
from simulators.world import RoomTruth, World
from tests.support.campus_yaml import one_lesson_campus
from tests.support.mosquitto import Broker

pytestmark = pytest.mark.mqtt

CAMPUS = one_lesson_campus(
    "e2e",
    "End-to-end School",
    """\
buildings:
  - id: b1
    rooms:
      - {id: r101..r103, kind: classroom, capacity: 28, area: 60, orientation: S}
""",
)

RULES = """\
rules:
  - id: lights-when-occupied-and-dark
    when: occupancy and illuminance < 300
    until: not occupancy
    until_for: 10m
    set:
      lights: on
  - id: ventilate-stuffy
    when: occupancy and co2 > 1000
    for: 2m
    until: co2 < 800 or not occupancy
    set:
      ventilation: 100
"""

MONDAY_MORNING = "2026-11-23 07:55"
"""Before sunrise in Oslo in late November: rooms are dark when the lesson starts."""
SPEED = 600.0
END = 95 * 60
"""Simulated seconds: to 09:30, well after the class left and the lights' 10 min hold."""


@dataclass
class Sample:
    t: float
    truth: RoomTruth


@dataclass
class Run:
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    commands: list[tuple[float, str, object, str]] = field(default_factory=list)


def test_simulated_rooms_are_lit_and_aired_by_the_rules(
    fresh_broker: Broker, tmp_path: Path
) -> None:
    (tmp_path / "campus.yaml").write_text(CAMPUS)
    (tmp_path / "rules.yaml").write_text(RULES)
    run = asyncio.run(_school_morning(fresh_broker, tmp_path))

    used = [room for room, s in run.samples.items() if max(x.truth.occupants for x in s) > 0]
    assert used, "the timetable filled no classroom: pick another seed"
    for room, samples in run.samples.items():
        mine = [c for c in run.commands if c[1].startswith(room + ".")]
        lights_on = [c for c in mine if c[1].endswith(".lights") and c[2] is True]
        if room not in used:
            assert not lights_on, f"{room} was never used but its lights were switched on"
            continue
        # Lights: on while the class is in the dark room, off after it left.
        assert lights_on, f"{room}: no lights-on command"
        assert "lights-when-occupied-and-dark" in lights_on[0][3]
        assert any(s.truth.lights == 1.0 and s.truth.occupants for s in samples)
        assert samples[-1].truth.occupants == 0
        assert samples[-1].truth.lights == 0.0, f"{room}: lights still on after the class left"
        # Ventilation: full air once CO2 passed 1000 ppm for 2 minutes; then CO2 falls.
        fan_on = [c for c in mine if c[1].endswith(".ventilation") and c[2] == 100.0]
        assert fan_on, f"{room}: no ventilation command"
        started = next(s for s in samples if s.truth.ventilation == 1.0)
        assert started.truth.co2 > 1000
        later = [s.truth.co2 for s in samples if started.t < s.t <= started.t + 15 * 60]
        assert min(later) < started.truth.co2 - 100, f"{room}: CO2 did not fall: {later[-5:]}"


async def _school_morning(broker: Broker, folder: Path) -> Run:
    campus = load_campus(folder / "campus.yaml")
    ruleset = load_rules([folder / "rules.yaml"], campus)
    assert ruleset.ok, ruleset.problems
    start = parse_start(MONDAY_MORNING, campus.site.timezone)
    clock = ScaledClock(start, SPEED)
    world = World(campus, seed=7, start=start)
    simulator = SimulatorRunner(world, clock, parse_broker_url(broker.url), step=5.0)
    options = ServiceOptions(broker_url=broker.url, client_id="e2e-controller", settle=5.0)
    controller = build_controller(campus, ruleset, clock, options)
    run = Run({room.id: [] for room in campus.rooms})
    tasks = [asyncio.create_task(controller.run()), asyncio.create_task(simulator.run())]
    deadline = time.monotonic() + END / SPEED * 4 + 30
    try:
        while clock.now() < start + END:
            assert time.monotonic() < deadline, "the scenario did not finish in time"
            for task in tasks:
                if task.done():
                    task.result()
            for room in campus.rooms:
                run.samples[room.id].append(Sample(clock.now(), world.truth(room.id)))
            await asyncio.sleep(0.02)
    finally:
        simulator.stop()
        tasks[0].cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    run.commands = [(c.ts, c.actuator, c.value, c.reason) for c in controller.recent]
    return run
