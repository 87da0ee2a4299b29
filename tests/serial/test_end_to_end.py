"""Simulated MH-Z19B -> pty -> serial driver -> rules engine -> fan command on a real Mosquitto,
and the sensor's cable pulled and plugged back while the controller runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import pytest

from campus.clock import ScaledClock
from campus.config import load_campus
from controller.service import ServiceOptions, build_controller
from rules.loader import load_rules
from rules.values import UNKNOWN
from simulators.serial.mhz19b import Mhz19bDevice
from simulators.serial.runner import SerialSimulator
from tests.drivers.helpers import Peer
from tests.serial.support import Values
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.serial, pytest.mark.mqtt]

CAMPUS = """\
site: {{id: serial-e2e, name: Serial end to end, timezone: Europe/Oslo}}
serial:
  b1-r101-co2: {{device: {dir}/b1-r101-co2, protocol: mhz19b, poll_interval: 2s, timeout: 0.5}}
kinds:
  classroom:
    points:
      co2:
        unit: ppm
        range: [0, 10000]
        stale_after: 10s
        serial: {{port: "{{building}}-{{room}}-co2"}}
    actuators:
      ventilation:
        type: level
        default: 0
        mqtt: {{topic: "serial-e2e/{{building}}-{{room}}-fan", key: percentage}}
buildings:
  - id: b1
    rooms: [{{id: r101, kind: classroom}}]
"""

RULES = """\
rules:
  - id: ventilate-stuffy
    when: co2 > 1000
    until: co2 < 800
    set:
      ventilation: 100
"""

SPEED = 10.0
"""Clock seconds per wall second: a poll every 0.2 s, stale after 1 s."""
FAN_SET = "serial-e2e/b1-r101-fan/set"
CO2 = "b1.r101.co2"


def fan_levels(peer: Peer) -> list[float]:
    return [json.loads(p)["percentage"] for p in peer.payloads(FAN_SET)]


@pytest.mark.faults
def test_a_serial_co2_sensor_drives_an_mqtt_fan_and_survives_its_cable(
    broker: Broker, tmp_path: Path
) -> None:
    (tmp_path / "campus.yaml").write_text(CAMPUS.format(dir=tmp_path))
    (tmp_path / "rules.yaml").write_text(RULES)
    peer = Peer(broker.host, broker.port)
    peer.subscribe(FAN_SET)
    try:
        asyncio.run(_scenario(broker, tmp_path, peer))
    finally:
        peer.close()


async def _scenario(broker: Broker, folder: Path, peer: Peer) -> None:
    campus = load_campus(folder / "campus.yaml")
    ruleset = load_rules([folder / "rules.yaml"], campus)
    assert ruleset.ok, ruleset.problems
    clock = ScaledClock(time.time(), SPEED)
    options = ServiceOptions(
        broker_url=broker.url, client_id="serial-e2e", settle=2.0, state=None, watch_rules=0
    )
    controller = build_controller(campus, ruleset, clock, options)
    assert [d.name for d in controller.drivers] == ["mqtt", "serial"]
    room = Values({"co2": 600.0, "temperature": 21.0})
    sensor = Mhz19bDevice(room)
    async with SerialSimulator() as sim:
        sim.add("co2", sensor, link=folder / "b1-r101-co2")
        running = asyncio.create_task(controller.run())
        try:
            await wait_for(lambda: fan_levels(peer) == [0], "the start-up command", 10)
            # the settle ends on time, not on the first reading: that comes from the port thread
            await wait_for(lambda: controller.engine.point_value(CO2) == 600, "the first co2", 5)

            room["co2"] = 1250.0
            await wait_for(lambda: fan_levels(peer)[-1:] == [100], "the fan at full", 5)
            command = controller.recent[-1]
            assert (command.actuator, command.value) == ("b1.r101.ventilation", 100.0)
            assert "ventilate-stuffy" in command.reason
            assert sensor.requests, "the driver polled the sensor over the pty"

            sim.unplug("co2")
            await wait_for(lambda: controller.engine.point_value(CO2) is UNKNOWN, "stale", 10)
            assert fan_levels(peer)[-1] == 100, "an unknown co2 holds the fan (on_unknown: hold)"

            sim.plug("co2")
            took = await wait_for(lambda: controller.engine.point_value(CO2) == 1250, "back", 5)
            assert took < 5.0

            room["co2"] = 700.0
            await wait_for(lambda: fan_levels(peer)[-1:] == [0], "the fan back off", 5)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
