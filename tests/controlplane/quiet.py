"""A control plane without a broker: a controller whose MQTT driver never connects and records
what would be published, for unit tests."""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.engine import FIVE_RULES, START, campus_of
from campus.clock import VirtualClock
from campus.model import Campus
from campus.types import Command
from controller.controlplane import ControlPlane, ControlPlaneSettings
from controller.runtime import Controller
from drivers.mqtt import MqttDriver, MqttSettings
from rules.loader import load_rules


@dataclass
class Sent:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class QuietDriver(MqttDriver):
    """Never connects (`up` says whether it claims to be); records what would be published."""

    def __init__(self, campus: Campus, clock: VirtualClock, keep: bool) -> None:
        super().__init__(campus, MqttSettings(), clock)
        self.up = False
        self.sent = 0
        self.keep = keep
        self.published: list[Sent] = []
        self.input_after: int | None = None
        """`input_waiting` says readings wait once this many messages were published."""

    @property
    def connected(self) -> bool:
        return self.up

    def input_waiting(self) -> bool:
        return self.input_after is not None and self.sent >= self.input_after

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> None:
        self.sent += 1
        if self.keep:
            data = payload.encode() if isinstance(payload, str) else payload
            self.published.append(Sent(topic, data, qos, retain))

    def send(self, command: Command) -> None:
        pass

    def subscribe(self, topic_filter: str, callback: Any) -> None:
        pass

    def unsubscribe(self, topic_filter: str) -> None:
        pass


@dataclass
class QuietPlane:
    plane: ControlPlane
    controller: Controller
    driver: QuietDriver
    clock: VirtualClock
    rooms: list[str] = field(default_factory=list)

    def rooms_sent(self) -> list[str]:
        """The room ids of the room messages published so far, in order."""
        prefix = f"{self.plane.topics.base}/room/"
        return [
            s.topic[len(prefix) :].replace("/", ".")
            for s in self.driver.published
            if s.topic.startswith(prefix)
        ]


async def quiet_plane(
    rooms: int = 1,
    settings: ControlPlaneSettings | None = None,
    *,
    keep: bool = True,
    campus: Campus | None = None,
    rules: list[Path] | None = None,
) -> QuietPlane:
    """The control plane started on `campus` with `rules`, by default `rooms` classrooms of
    bench.engine (5 points, 2 actuators, 5 rules each); it does not tick by itself
    (`ControlPlaneSettings.ticking` off), so tests drive it with `publish_due(now)`. `keep`:
    record publications."""
    with tempfile.TemporaryDirectory() as folder:
        if campus is None:
            campus = campus_of(rooms)
        if rules is None:
            path = Path(folder) / "rules.yaml"
            path.write_text(FIVE_RULES)
            rules = [path]
        ruleset = load_rules(rules, campus)
    assert ruleset.rules, ruleset.problems
    clock = VirtualClock(START)
    driver = QuietDriver(campus, clock, keep)
    plane = ControlPlane(dataclasses.replace(settings or ControlPlaneSettings(), ticking=False))
    quiet = logging.getLogger("campusctl.controller")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # no "not bound" warning for every actuator
    try:
        controller = Controller(campus, ruleset, [driver], clock, settle=0.0, extensions=[plane])
    finally:
        quiet.setLevel(level)
    await plane.start(controller)
    return QuietPlane(plane, controller, driver, clock, [r.id for r in campus.rooms])
