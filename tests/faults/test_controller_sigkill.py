"""The controller SIGKILLed in the middle of a hold and an override, then restarted.

A `for: 10m` hold is running in one room and a staff override of 20 minutes in another when the
controller process is killed without warning. Restarted from its state file, it must fire the
hold when the original ten minutes are up (not ten minutes after the restart) and end the
override when its original expiry comes, keeping the overridden light on in between.

What is lost: nothing but at most the last wall second of state (controller/state.py writes once
a second); the test kills the controller well after both were recorded.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from campus.clock import ScaledClock, parse_start
from tests.faults.support import ControllerProcess
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.mqtt]

CAMPUS = """\
site: {id: crash, name: Crash School, timezone: Europe/Oslo}
kinds:
  classroom:
    points:
      co2:
        unit: ppm
        range: [250, 10000]
        stale_after: 2h
        mqtt: {topic: "zigbee2mqtt/{building}-{room}-ms"}
    actuators:
      lights: {type: switch, default: off, mqtt: {topic: "zigbee2mqtt/{building}-{room}-light"}}
      ventilation:
        type: level
        default: 0
        mqtt: {topic: "zigbee2mqtt/{building}-{room}-fan", key: percentage}
buildings:
  - id: b1
    rooms:
      - {id: r101..r102, kind: classroom, capacity: 28, area: 60}
"""
RULES = """\
rules:
  - id: stuffy
    when: co2 > 1000
    for: 10m
    set:
      ventilation: 100
"""
SPEED = 60.0
HOLD = 600.0
OVERRIDE = 1200.0
DOWN = 60.0
"""Simulated seconds the controller stays dead (one wall second at `SPEED`)."""
SLACK = 60.0
"""Simulated seconds of tolerance on "on time" (one wall second at 60x, for a loaded machine;
a hold restarted by the restart would be 240 s late)."""


class Devices:
    """Plays the Zigbee devices: publishes sensor state, records commands with their time."""

    def __init__(self, broker: Broker, clock: ScaledClock) -> None:
        self.clock = clock
        self.commands: list[tuple[float, str, dict[str, Any]]] = []
        self.answers: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.on_connect = lambda c, *_: c.subscribe(
            [("zigbee2mqtt/+/set", 1), ("campusctl/crash/response/+", 1)]
        )
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert ready.wait(5), "the device client did not subscribe"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        payload = json.loads(msg.payload)
        with self._lock:
            if msg.topic.startswith("campusctl/"):
                self.answers.append(payload)
            else:
                self.commands.append((self.clock.now(), msg.topic, payload))

    def publish(self, topic: str, payload: dict[str, Any], retain: bool = False) -> None:
        self.client.publish(topic, json.dumps(payload), qos=1, retain=retain).wait_for_publish(5)

    def got(self, topic: str, **expected: object) -> list[float]:
        """When commands on `topic` carrying `expected` arrived (simulated time)."""
        with self._lock:
            return [
                t
                for t, tp, p in self.commands
                if tp == topic and all(p.get(k) == v for k, v in expected.items())
            ]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_sigkill_in_the_middle_of_a_hold_and_an_override(
    fresh_broker: Broker, tmp_path: Path
) -> None:
    (tmp_path / "campus.yaml").write_text(CAMPUS)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(RULES)
    asyncio.run(_scenario(fresh_broker, tmp_path))


async def _scenario(broker: Broker, folder: Path) -> None:
    clock = ScaledClock(parse_start("2026-11-23 09:00", "Europe/Oslo"), SPEED)
    controller = ControllerProcess(folder, broker.url, clock)
    devices = Devices(broker, clock)
    fan, light = "zigbee2mqtt/b1-r101-fan/set", "zigbee2mqtt/b1-r102-light/set"
    try:
        controller.start()
        await wait_for(lambda: devices.got(light, state="OFF"), "the first commands", 30)

        devices.publish("zigbee2mqtt/b1-r101-ms", {"co2": 1200}, retain=True)
        hold_started = clock.now()
        request = {
            "actuator": "b1.r102.lights",
            "value": "on",
            "duration": f"{OVERRIDE:.0f}s",
            "user": "alice",
            "transaction": "t1",
        }
        devices.publish("campusctl/crash/request/override", request)
        await wait_for(lambda: devices.answers, "the answer to the override")
        assert devices.answers[0]["status"] == "ok", devices.answers[0]
        override_until = devices.answers[0]["data"]["until"]
        await wait_for(lambda: devices.got(light, state="ON"), "the override to reach the light")

        await clock.sleep_until(hold_started + 240)  # 4 wall seconds: the state file has both
        assert not devices.got(fan, percentage=100), "the hold fired before its time"
        controller.kill()
        killed_at = clock.now()
        await clock.sleep_until(killed_at + DOWN)
        controller.start()

        await wait_for(lambda: devices.got(fan, percentage=100), "the hold to fire", 30)
        fired = devices.got(fan, percentage=100)[0]
        assert abs(fired - (hold_started + HOLD)) <= SLACK, (
            f"the hold fired {fired - hold_started:.0f} s after it began, not {HOLD:.0f} s "
            f"(killed at {killed_at - hold_started:.0f} s)"
        )
        assert not [t for t in devices.got(light, state="OFF") if killed_at < t < fired], (
            "the restart dropped the override"
        )

        await wait_for(
            lambda: [t for t in devices.got(light, state="OFF") if t > killed_at],
            "the override to end",
            30,
        )
        ended = next(t for t in devices.got(light, state="OFF") if t > killed_at)
        assert abs(ended - override_until) <= SLACK, (
            f"the override ended {ended - override_until:+.0f} s from its expiry"
        )
    finally:
        controller.stop()
        devices.close()
