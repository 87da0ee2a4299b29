"""Mosquitto SIGKILLed and restarted (without persistence) while simulated rooms publish.

The controller must reconnect, subscribe again, publish its retained state again (the restarted
broker forgot it), and every actuator must end in the state its rules require, compared with the
simulator's own device states. The outage spans a change the rules make on their own (a purge
window opening), so a command is decided while nobody can deliver it.

What is lost: nothing. Readings published during the outage are gone (QoS 0 telemetry, as
with any broker outage) but every device reports again on reconnect, so no decision rests on
them; no command is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from campus.model import ActuatorType
from campus.types import Value
from controller.runtime import Controller
from controller.service import ServiceOptions, build_controller
from drivers.mqtt import MqttDriver
from rules.loader import load_rules
from simulators.mqtt import SimulatorRunner
from simulators.world import World
from tests.faults.support import KillableMosquitto
from tests.support.campus_yaml import one_lesson_campus
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.mqtt]

CAMPUS = one_lesson_campus(
    "outage",
    "Outage School",
    """\
buildings:
  - id: b1
    rooms:
      - {id: r101..r104, kind: classroom, capacity: 28, area: 60}
""",
)
RULES = """\
rules:
  - id: lights-when-occupied-and-dark
    when: occupancy and illuminance < 300
    until: not occupancy
    set:
      lights: on
  - id: purge-before-lessons
    when: during("Mon-Fri 08:10-08:40")
    set:
      ventilation: 40
    priority: schedule
  - id: ventilate-stuffy
    when: occupancy and co2 > 1000
    until: co2 < 800 or not occupancy
    set:
      ventilation: 100
"""
SPEED = 60.0
START = "2026-11-23 08:06"
OUTAGE_AT = "2026-11-23 08:09"
"""The purge window opens at 08:10, while the broker is down."""
OUTAGE = 180.0
"""Simulated seconds the broker stays dead (three wall seconds at `SPEED`)."""
RECOVERY = 10.0
"""Wall seconds (ten simulated minutes) for every device to be right again once both sides
are back: well before any rule changes its mind (the purge window lasts to 08:40)."""


def test_broker_killed_and_restarted_while_rooms_publish(tmp_path: Path) -> None:
    (tmp_path / "campus.yaml").write_text(CAMPUS)
    (tmp_path / "rules.yaml").write_text(RULES)
    broker = KillableMosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        asyncio.run(_scenario(broker, tmp_path))
    finally:
        broker.stop()


def mismatches(controller: Controller, world: World) -> list[str]:
    """Actuators whose simulated device is not in the state the controller's rules require."""
    wrong = []
    for room in controller.campus.rooms:
        truth = world.truth(room.id)
        for name, spec in room.actuators.items():
            wanted: Value = controller.engine.actuator_value(spec.id)
            device = getattr(truth, name)
            if spec.type is ActuatorType.SWITCH:
                ok = (device > 0) == bool(wanted)
            else:
                ok = abs(device * 100.0 - float(wanted)) < 0.5
            if not ok:
                wrong.append(f"{spec.id}: device {device}, rules want {wanted}")
    return wrong


def retained_after_restart(url: str, site: str, rooms: int) -> dict[str, bytes]:
    """What a client that connects now gets at once: the retained control-plane messages
    (waiting, up to a deadline, until the `rooms` room states are among them: they arrive one
    by one on paho's thread)."""
    address = parse_broker_url(url)
    got: dict[str, bytes] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.on_message = lambda c, u, m: got.__setitem__(m.topic, bytes(m.payload))
    client.connect(address.host, address.port)
    client.subscribe(f"campusctl/{site}/#", qos=1)
    client.loop_start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum("/room/" in t for t in list(got)) < rooms:
            time.sleep(0.02)
    finally:
        client.disconnect()
        client.loop_stop()
    return got


async def _scenario(broker: KillableMosquitto, folder: Path) -> None:
    campus = load_campus(folder / "campus.yaml")
    ruleset = load_rules([folder / "rules.yaml"], campus)
    assert ruleset.ok, ruleset.problems
    tz = campus.site.timezone
    clock = ScaledClock(parse_start(START, tz), SPEED)
    world = World(campus, seed=7, start=clock.now())
    simulator = SimulatorRunner(world, clock, parse_broker_url(broker.url), step=5.0)
    options = ServiceOptions(broker_url=broker.url, client_id="outage-controller", settle=2.0)
    controller = build_controller(campus, ruleset, clock, options)
    driver = controller.driver("mqtt")
    assert isinstance(driver, MqttDriver)
    tasks = [asyncio.create_task(controller.run()), asyncio.create_task(simulator.run())]
    try:
        await asyncio.wait_for(controller.ready.wait(), 10)
        await wait_for(lambda: controller.commands > 0, "the first commands after the settle")
        await wait_for(lambda: not mismatches(controller, world), "devices to follow the rules")

        outage_at = parse_start(OUTAGE_AT, tz)
        await clock.sleep_until(outage_at)
        readings_before = controller.readings
        broker.kill()
        await wait_for(lambda: not driver.connected, "the controller to notice the outage")
        await clock.sleep_until(outage_at + OUTAGE)
        assert controller.engine.actuator_value("b1.r101.ventilation") == 40.0
        held = driver.stats.commands_held
        assert held > 0, "no command was decided during the outage"
        broker.start()

        await wait_for(lambda: driver.connected, "the controller to reconnect", 30)
        await wait_for(simulator.connected.is_set, "the simulator to reconnect", 30)
        await wait_for(
            lambda: controller.readings > readings_before + len(campus.rooms),
            "readings after the restart (resubscribed)",
            30,
        )
        await wait_for(
            lambda: not mismatches(controller, world),
            "every device in the state its rules require",
            RECOVERY,
        )
        assert controller.engine.actuator_value("b1.r101.ventilation") == 40.0, (
            "the purge window must still be open: the check above proved nothing"
        )
        assert driver.stats.connects >= 2
        retained = await asyncio.to_thread(
            retained_after_restart, broker.url, "outage", len(campus.rooms)
        )
        assert retained.get("campusctl/outage/status") == b"online"
        rooms = [t for t in retained if t.startswith("campusctl/outage/room/")]
        assert len(rooms) == len(campus.rooms), rooms
        assert json.loads(retained["campusctl/outage/campus"])
    finally:
        simulator.stop()
        tasks[0].cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
