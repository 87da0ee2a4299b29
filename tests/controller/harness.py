"""An in-process controller on a real broker, as `campusctl run` builds it, with a state file
and a rules folder of the test's own; a paho client plays the Zigbee2MQTT devices.

Every test uses its own Mosquitto (`fresh_broker`): the devices publish retained state, as
Zigbee2MQTT does, and that must not leak into other tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ParamSpec

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from campus.model import Campus
from campus.types import Command
from controller.runtime import Controller
from controller.service import ServiceOptions, build_controller
from drivers.mqtt import MqttDriver
from rules.loader import load_rules
from tests.conftest import EXAMPLES
from tests.support.mosquitto import Broker

P = ParamSpec("P")
START = parse_start("2026-11-23 08:20", "Europe/Oslo")
"""A Monday, during the first lesson."""
SENSOR = "zigbee2mqtt/main-r101-multisensor"
LIGHT_RULES = """\
rules:
  - id: lights
    rooms: id == "main.r101"
    when: occupancy and illuminance < 300
    set:
      lights: on
"""
"""Lights on in main.r101 while it is occupied and dark."""


def rules_folder(tmp_path: Path, text: str) -> Path:
    """A rules folder under `tmp_path` with `text` as its one file."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "rules.yaml").write_text(text)
    return folder


def demo_campus() -> Campus:
    return load_campus(EXAMPLES / "campus.yaml")


@contextlib.asynccontextmanager
async def running(
    broker: Broker, rules: Path, state: Path, clock: ScaledClock, watch: float = 0.0
) -> AsyncIterator[Controller]:
    """A controller from `rules` (a folder) with its state in `state`, until the block ends."""
    campus = demo_campus()
    ruleset = load_rules([rules], campus)
    assert ruleset.ok, [str(p) for p in ruleset.problems]
    options = ServiceOptions(broker_url=broker.url, settle=1.0, state=state, watch_rules=watch)
    controller = build_controller(campus, ruleset, clock, options)
    task = asyncio.create_task(controller.run(), name="controller")
    try:
        await asyncio.wait_for(controller.ready.wait(), 10)
        driver = controller.driver("mqtt")
        assert isinstance(driver, MqttDriver)
        await asyncio.wait_for(driver.wait_connected(), 10)
        yield controller
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def sent(controller: Controller, actuator: str) -> list[Command]:
    return [c for c in controller.recent if c.actuator == actuator]


class Devices:
    """Plays the devices: publishes retained Z2M state, records what is sent to `/set`."""

    def __init__(self, broker: Broker) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_: c.subscribe("zigbee2mqtt/+/set", qos=1)
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert ready.wait(5), "the device client did not subscribe"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.commands.append((msg.topic, json.loads(msg.payload)))

    def report(self, topic: str, **state: object) -> None:
        self.client.publish(topic, json.dumps(state), qos=1, retain=True).wait_for_publish(5)

    def got(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return [payload for t, payload in self.commands if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
