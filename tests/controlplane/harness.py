"""A running campus for control-plane and TUI tests: the demo campus under a site id of the
test's own, the controller built as `campusctl run` builds it (control plane included), and the
simulated rooms in-process, all on a real broker and one accelerated clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from campus.model import Campus
from controller.controlplane import ControlPlane
from controller.roles import Staff
from controller.runtime import Controller
from controller.service import ServiceOptions, build_controller
from drivers.mqtt import MqttDriver
from rules.loader import load_rules
from simulators.mqtt import SimulatorRunner
from simulators.world import World
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

P = ParamSpec("P")
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
START = parse_start("2026-11-23 07:50", "Europe/Oslo")
"""A Monday before the first lesson: rooms are empty, lights and fans at their defaults."""

ALARM_RULES = """\
rules:
  - id: co2-watch
    description: A test alarm that is raised in every classroom once CO2 is reported.
    rooms: kind == "classroom"
    when: co2 > 300
    alarm:
      severity: warning
      message: "CO2 {co2:.0f} ppm in {room.name}"
"""


def site_campus(site_id: str) -> Campus:
    campus = load_campus(EXAMPLES / "campus.yaml")
    return dataclasses.replace(campus, site=dataclasses.replace(campus.site, id=site_id))


def unique_site(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class RunningCampus:
    campus: Campus
    controller: Controller
    world: World
    broker: Broker
    clock: ScaledClock

    @property
    def site(self) -> str:
        return self.campus.site.id

    @property
    def url(self) -> str:
        return self.broker.url

    @property
    def plane(self) -> ControlPlane:
        return next(e for e in self.controller.extensions if isinstance(e, ControlPlane))


@contextlib.asynccontextmanager
async def running_campus(
    broker: Broker,
    tmp_path: Path,
    *,
    site: str | None = None,
    speed: float = 30.0,
    alarms: bool = True,
    staff: Staff | None = None,
) -> AsyncIterator[RunningCampus]:
    """The demo campus with its rules (plus a test alarm rule), controlled and simulated;
    `staff`: the roles the controller checks requests against (`--staff-file`)."""
    campus = site_campus(site or unique_site())
    rule_paths = [EXAMPLES / "rules"]
    if alarms:
        extra = tmp_path / "alarm-rules"
        extra.mkdir(exist_ok=True)
        (extra / "alarms.yaml").write_text(ALARM_RULES)
        rule_paths.append(extra)
    ruleset = load_rules(rule_paths, campus)
    assert ruleset.rules, ruleset.problems
    clock = ScaledClock(START, speed)
    options = ServiceOptions(broker_url=broker.url, settle=5.0, staff=staff)
    controller = build_controller(campus, ruleset, clock, options)
    world = World(campus, 1, clock.now())
    runner = SimulatorRunner(world, clock, parse_broker_url(broker.url), step=5.0)
    task = asyncio.create_task(controller.run(), name="controller")
    sim: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(controller.ready.wait(), 10)
        driver = controller.driver("mqtt")
        assert isinstance(driver, MqttDriver)
        await asyncio.wait_for(driver.wait_connected(), 10)
        sim = asyncio.create_task(runner.run(), name="simulator")
        await asyncio.wait_for(runner.connected.wait(), 10)
        yield RunningCampus(campus, controller, world, broker, clock)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        runner.stop()
        if sim is not None:
            await sim


class PlaneClient:
    """A staff tool on the control plane: records every message under the site, sends requests.

    paho's own network thread; the recorded messages are read under a lock.
    """

    def __init__(self, broker: Broker, site: str) -> None:
        self.site = site
        self.base = f"campusctl/{site}"
        self.messages: list[tuple[str, bytes]] = []
        self.retained: dict[str, bytes] = {}
        self.qos: dict[str, int] = {}
        """The QoS of the last message on each topic (the client subscribes at QoS 1, so a
        message arrives at the QoS it was published with)."""
        self.event_qos: dict[str, set[int]] = {}
        """The QoS each type of event-stream message arrived with."""
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe(f"{self.base}/#", qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self._subscribed.wait(5), "test client did not subscribe"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.retained[msg.topic] = bytes(msg.payload)
            self.qos[msg.topic] = msg.qos
            if msg.topic == f"{self.base}/events":
                kind = json.loads(msg.payload).get("type", "")
                self.event_qos.setdefault(kind, set()).add(msg.qos)

    def on(self, suffix: str) -> list[Any]:
        """Every JSON payload seen on ``campusctl/<site>/<suffix>``, oldest first."""
        topic = f"{self.base}/{suffix}"
        with self._lock:
            return [json.loads(p) for t, p in self.messages if t == topic and p]

    def latest(self, suffix: str) -> Any:
        """The newest JSON payload on ``campusctl/<site>/<suffix>``, or None."""
        with self._lock:
            payload = self.retained.get(f"{self.base}/{suffix}")
        return json.loads(payload) if payload else None

    def send(self, name: str, payload: bytes | str) -> None:
        self.client.publish(f"{self.base}/request/{name}", payload, qos=1)

    async def request(self, name: str, body: dict[str, Any], deadline: float = 10.0) -> Any:
        """Send a request with a fresh transaction; the response that carries it."""
        transaction = uuid.uuid4().hex
        self.send(name, json.dumps({**body, "transaction": transaction}))
        return await self.response(name, transaction, deadline)

    async def response(self, name: str, transaction: str | None, deadline: float = 10.0) -> Any:
        found: list[Any] = []

        def answered() -> bool:
            found[:] = [
                r for r in self.on(f"response/{name}") if r.get("transaction") == transaction
            ]
            return bool(found)

        await wait_for(answered, f"the response to {name} ({transaction})", deadline)
        return found[0]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
