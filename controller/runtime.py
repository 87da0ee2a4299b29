"""The controller's event loop: readings in, rules evaluated, commands out.

Drivers hand readings over in batches; the engine is synchronous and pure, so the loop only
waits for the next batch or the engine's next deadline (hold timers, staleness, time windows),
whichever comes first, on the injected clock. Every reading and command is also emitted on the
bus for the extensions (history, control plane, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from campus.clock import Clock
from campus.model import Campus
from campus.types import Command, Reading, Value
from controller.bus import Bus
from controller.extension import Extension
from drivers.base import Driver
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
    """One campus, one rule set, its drivers and extensions."""

    def __init__(
        self,
        campus: Campus,
        rules: RuleSet,
        drivers: Sequence[Driver],
        clock: Clock,
        *,
        settle: float = 5.0,
        extensions: Sequence[Extension] = (),
    ) -> None:
        self.campus = campus
        self.rules = rules
        self.drivers = list(drivers)
        self.clock = clock
        self.settle = settle
        self.extensions = list(extensions)
        self.bus = Bus()
        self.rooms: dict[str, RoomStats] = {room.id: RoomStats() for room in campus.rooms}
        self.readings = 0
        self.commands = 0
        self.recent: deque[Command] = deque(maxlen=500)
        """The last commands sent, newest last."""
        self.engine = Engine(campus, rules, clock.now(), settle)
        self.ready = asyncio.Event()
        self._actuators = campus.actuators()
        self._routes = self._route_commands()
        self._inbox: asyncio.Queue[list[Reading]] = asyncio.Queue()

    def _route_commands(self) -> dict[str, Driver]:
        routes: dict[str, Driver] = {}
        for actuator in self._actuators.values():
            driver = next((d for d in self.drivers if d.handles(actuator)), None)
            if driver is None:
                log.warning("no driver carries commands for %s: it is not bound", actuator.id)
            else:
                routes[actuator.id] = driver
        return routes

    def driver(self, name: str) -> Driver | None:
        """The driver called `name` (``mqtt``, ...), if the controller has one."""
        return next((d for d in self.drivers if d.name == name), None)

    async def run(self) -> None:
        """Connect the drivers, start the extensions, and control until cancelled."""
        async with contextlib.AsyncExitStack() as stack:
            for driver in self.drivers:
                await stack.enter_async_context(driver)
                task = asyncio.create_task(self._forward(driver), name=f"{driver.name}-readings")
                stack.callback(task.cancel)
            for extension in self.extensions:
                await extension.start(self)
                stack.push_async_callback(extension.stop)
            log.info(
                "controlling %d rooms with %d rules via %s",
                len(self.rooms),
                len(self.rules.rules),
                ", ".join(d.name for d in self.drivers) or "no driver",
            )
            self.ready.set()
            await self._loop()

    async def _forward(self, driver: Driver) -> None:
        while True:
            self._inbox.put_nowait(await driver.readings.get())

    async def _loop(self) -> None:
        engine = self.engine
        next_batch = asyncio.create_task(self._inbox.get())
        try:
            while True:
                deadline = engine.next_deadline()
                sleeper = None
                waiters: set[asyncio.Future[object]] = {next_batch}  # type: ignore[arg-type]
                if deadline is not None:
                    sleeper = asyncio.create_task(self.clock.sleep_until(deadline))
                    waiters.add(sleeper)  # type: ignore[arg-type]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                if sleeper is not None and not sleeper.done():
                    sleeper.cancel()
                if next_batch.done():
                    self.handle(next_batch.result())
                    next_batch = asyncio.create_task(self._inbox.get())
                self.send(engine.advance(self.clock.now()))
        finally:
            next_batch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await next_batch

    def handle(self, batch: list[Reading]) -> None:
        """Feed a batch of readings to the engine and send what it decides."""
        emit = self.bus.wants(Reading)
        for reading in batch:
            room_id, _, name = reading.point.rpartition(".")
            stats = self.rooms.get(room_id)
            if stats is None:
                continue
            if emit:
                self.bus.emit(reading)
            if reading.point in self._actuators:
                stats.reported[name] = reading.value
                continue
            self.readings += 1
            stats.readings += 1
            stats.values[name] = reading.value
            self.send(self.engine.on_reading(reading))

    def send(self, commands: list[Command]) -> None:
        for command in commands:
            room_id, _, name = command.actuator.rpartition(".")
            stats = self.rooms[room_id]
            stats.commands += 1
            stats.commanded[name] = command.value
            self.commands += 1
            self.recent.append(command)
            log.info("%s -> %s: %s", command.actuator, show_value(command.value), command.reason)
            driver = self._routes.get(command.actuator)
            if driver is not None:
                driver.send(command)
            self.bus.emit(command)


def show_value(value: Value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}"
