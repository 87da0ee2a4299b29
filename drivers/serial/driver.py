"""The serial driver: campus.yaml's serial ports in, `Reading` batches out.

    async with SerialDriver(campus, clock) as driver:
        batch = await driver.readings.get()

Every port that feeds a point runs in its own thread (`PortWorker`: blocking pyserial, reopening
with backoff when the port goes away). Each frame's values come back to the event loop as one
batch, stamped there with the injected clock and checked against the points they feed (type and
plausible range) before they are queued. Serial sensors only measure: the driver carries no
commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass
from types import TracebackType

from campus.clock import Clock
from campus.model import ActuatorSpec, Campus, PointSpec, ValueType
from campus.problems import DriverError
from campus.types import Batch, Command, Reading, Value
from drivers.mqtt.throttle import LogThrottle
from drivers.serial.port import PortStats, PortWorker, SerialTiming

log = logging.getLogger("campusctl.serial")

JOIN_TIMEOUT = 5.0


@dataclass(slots=True)
class SerialStats:
    """Counters of the event-loop side (each port has its own `PortStats`)."""

    readings: int = 0
    implausible: int = 0
    """Values outside their point's plausible range: rejected."""
    wrong_type: int = 0
    """A value other than 0 or 1 for a bool point: rejected."""


class SerialDriver:
    """Reads every serial-bound point of a campus.

    - `readings`: one batch per frame, holding one message (the points its values feed),
      stamped with `clock.now()`.
    - `ports`: each port's `PortStats` (connected, frames, bad bytes, timeouts, ...).
    - `problems`: ports declared but feeding no point (they are not opened).
    """

    name = "serial"

    def __init__(self, campus: Campus, clock: Clock, timing: SerialTiming | None = None) -> None:
        self.readings: asyncio.Queue[Batch] = asyncio.Queue()
        self.stats = SerialStats()
        self.timing = timing or SerialTiming()
        self._clock = clock
        self._ports = campus.serial_ports
        self._points: dict[str, dict[str, list[PointSpec]]] = {}
        for point in campus.points().values():
            if point.serial is not None:
                fields = self._points.setdefault(point.serial.port, {})
                fields.setdefault(point.serial.field, []).append(point)
        self.problems = [
            f"serial port {name} ({port.device}) feeds no point: not opened"
            for name, port in self._ports.items()
            if name not in self._points
        ]
        self._workers: dict[str, PortWorker] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._throttle = LogThrottle(log, self.timing.log_interval)

    @property
    def ports(self) -> dict[str, PortStats]:
        return {name: worker.stats for name, worker in self._workers.items()}

    def handles(self, actuator: ActuatorSpec) -> bool:
        return False

    def send(self, command: Command) -> None:
        raise DriverError(
            f"{command.actuator}: the serial driver reads sensors only; bind the actuator "
            "with mqtt: or homeassistant:"
        )

    async def __aenter__(self) -> SerialDriver:
        self._loop = asyncio.get_running_loop()
        for problem in self.problems:
            log.warning("%s", problem)
        for name in self._points:
            worker = PortWorker(
                self._ports[name],
                functools.partial(self._from_thread, name),
                speed=self._clock.speed,
                timing=self.timing,
            )
            self._workers[name] = worker
            worker.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        workers = list(self._workers.values())
        for worker in workers:
            worker.stop()
        await asyncio.to_thread(_join_all, workers)
        self._loop = None

    def _from_thread(self, port: str, values: dict[str, float]) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed while stopping
                loop.call_soon_threadsafe(self._arrive, port, values)

    def _arrive(self, port: str, values: dict[str, float]) -> None:
        now = self._clock.now()
        message: list[Reading] = []
        fields = self._points.get(port, {})
        for name, raw in values.items():
            for point in fields.get(name, ()):
                value = self._check(port, point, raw)
                if value is not None:
                    message.append(Reading(point.id, value, now))
        if message:
            self.stats.readings += len(message)
            self.readings.put_nowait([message])

    def _check(self, port: str, point: PointSpec, raw: float) -> Value | None:
        value: Value = raw
        if point.type is ValueType.BOOL:
            if raw not in (0.0, 1.0):
                self.stats.wrong_type += 1
                self._throttle.warning(
                    point.id, f"serial port {port}: {point.id} is on/off, got {raw:g}; ignored"
                )
                return None
            value = raw == 1.0
        if not point.plausible(value):
            self.stats.implausible += 1
            low, high = point.range or (raw, raw)
            self._throttle.warning(
                point.id,
                f"serial port {port}: {point.id} = {raw:g} is outside the plausible range "
                f"{low:g}..{high:g}; rejected",
            )
            return None
        return value


def _join_all(workers: list[PortWorker]) -> None:
    for worker in workers:
        worker.join(JOIN_TIMEOUT)
