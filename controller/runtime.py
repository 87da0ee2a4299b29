"""The controller's event loop: readings in, rules evaluated, commands out.

Drivers hand readings over in batches; the engine is synchronous and pure, so the loop only
waits for the next batch or the engine's next deadline (hold timers, staleness, time windows),
whichever comes first, on the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field

from campus.clock import Clock
from campus.model import Campus
from campus.types import Command, Reading, Value
from drivers.mqtt import MqttDriver, MqttSettings
from rules.engine import Engine
from rules.schema import RuleSet

log = logging.getLogger("campusctl.controller")


@dataclass
class RoomStats:
    """What the controller saw and did in one room (for the summary and the logs)."""

    readings: int = 0
    commands: int = 0
    values: dict[str, Value | None] = field(default_factory=dict)
    """Last reading per point name (None: unavailable)."""
    commanded: dict[str, Value] = field(default_factory=dict)
    """Last command per actuator name."""
    reported: dict[str, Value | None] = field(default_factory=dict)
    """Last state the device reported per actuator name."""


class Controller:
    """One campus, one rule set, one broker."""

    def __init__(
        self,
        campus: Campus,
        rules: RuleSet,
        mqtt: MqttSettings,
        clock: Clock,
        settle: float = 5.0,
    ) -> None:
        self.campus = campus
        self.rules = rules
        self.clock = clock
        self.settle = settle
        self.mqtt_settings = mqtt
        self.rooms: dict[str, RoomStats] = {room.id: RoomStats() for room in campus.rooms}
        self._actuators = campus.actuators()
        self.readings = 0
        self.commands = 0
        self.recent: deque[Command] = deque(maxlen=500)
        """The last commands sent, newest last."""
        self.driver: MqttDriver | None = None
        self.engine: Engine | None = None
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Run until cancelled."""
        async with MqttDriver(self.campus, self.mqtt_settings, self.clock) as driver:
            self.driver = driver
            self.engine = engine = Engine(self.campus, self.rules, self.clock.now(), self.settle)
            log.info(
                "controlling %d rooms with %d rules via %s",
                len(self.rooms),
                len(self.rules.rules),
                self.mqtt_settings.url,
            )
            self.ready.set()
            batches = driver.readings
            next_batch: asyncio.Task[list[Reading]] = asyncio.create_task(batches.get())
            try:
                while True:
                    deadline = engine.next_deadline()
                    waiters: set[asyncio.Future[object]] = {next_batch}  # type: ignore[arg-type]
                    sleeper = None
                    if deadline is not None:
                        sleeper = asyncio.create_task(self.clock.sleep_until(deadline))
                        waiters.add(sleeper)  # type: ignore[arg-type]
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                    if sleeper is not None and not sleeper.done():
                        sleeper.cancel()
                    if next_batch.done():
                        self.handle(next_batch.result())
                        next_batch = asyncio.create_task(batches.get())
                    self.send(engine.advance(self.clock.now()))
            finally:
                next_batch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await next_batch

    def handle(self, batch: list[Reading]) -> None:
        """Feed a batch of readings to the engine and send what it decides."""
        assert self.engine is not None
        for reading in batch:
            room_id, _, name = reading.point.rpartition(".")
            stats = self.rooms.get(room_id)
            if stats is None:
                continue
            if reading.point in self._actuators:
                stats.reported[name] = reading.value
                continue
            self.readings += 1
            stats.readings += 1
            stats.values[name] = reading.value
            self.send(self.engine.on_reading(reading))

    def send(self, commands: list[Command]) -> None:
        assert self.driver is not None
        for command in commands:
            room_id, _, name = command.actuator.rpartition(".")
            stats = self.rooms[room_id]
            stats.commands += 1
            stats.commanded[name] = command.value
            self.commands += 1
            self.recent.append(command)
            log.info("%s -> %s: %s", command.actuator, _show(command.value), command.reason)
            self.driver.send(command)


def _show(value: Value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}"
