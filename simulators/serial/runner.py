"""Serves simulated serial devices on pseudo-terminals from the asyncio loop.

Each port's master descriptor is watched with ``loop.add_reader``: whatever the host sends goes
to the device at once and its answer is written back at once, as a sensor answers within
milliseconds. Streaming devices are ticked on a timer in wall time (a UART's pace does not
speed up with the simulated clock). No threads: the devices read the `World` on the same loop
that steps it.

    async with SerialSimulator() as sim:
        port = sim.add("co2", Mhz19bDevice(source), link=Path("/tmp/ttyCO2"))
        ...  # a driver opens port.pty.device
        sim.unplug("co2"); sim.plug("co2")
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from simulators.serial.device import SerialDevice
from simulators.serial.pty import PtyPort

log = logging.getLogger("campusctl.sim.serial")


@dataclass
class SimulatedPort:
    name: str
    device: SerialDevice
    pty: PtyPort
    ticker: asyncio.Task[None] | None = field(default=None, repr=False)


class SerialSimulator:
    def __init__(self) -> None:
        self.ports: dict[str, SimulatedPort] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, name: str, device: SerialDevice, link: Path | None = None) -> SimulatedPort:
        """A device on a new pty (plugged at once if the simulator runs)."""
        if name in self.ports:
            raise ValueError(f"serial port {name!r} is simulated already")
        port = SimulatedPort(name, device, PtyPort(link))
        self.ports[name] = port
        if self._loop is not None:
            self._start(port)
        return port

    async def __aenter__(self) -> SerialSimulator:
        self._loop = asyncio.get_running_loop()
        for port in self.ports.values():
            self._start(port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for port in self.ports.values():
            if port.ticker is not None:
                port.ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await port.ticker
            self.unplug(port.name)
        self._loop = None

    def plug(self, name: str) -> None:
        """Put the device on a fresh pty (re-pointing its link)."""
        port = self.ports[name]
        if port.pty.plugged or self._loop is None:
            return
        port.pty.plug()
        self._loop.add_reader(port.pty.fd, self._readable, port)
        log.info("serial %s: %s on %s", name, port.device.protocol, port.pty.device)

    def unplug(self, name: str) -> None:
        """Pull the cable: the driver's I/O fails and the path disappears until `plug`."""
        port = self.ports[name]
        if not port.pty.plugged:
            return
        if self._loop is not None:
            self._loop.remove_reader(port.pty.fd)
        port.pty.unplug()

    def _start(self, port: SimulatedPort) -> None:
        self.plug(port.name)
        if port.device.tick_interval is not None:
            port.ticker = asyncio.create_task(self._tick(port), name=f"serial-sim-{port.name}")

    def _readable(self, port: SimulatedPort) -> None:
        data = port.pty.read()
        if not data:
            return
        self._send(port, port.device.receive(data))

    async def _tick(self, port: SimulatedPort) -> None:
        while True:
            interval = port.device.tick_interval
            await asyncio.sleep(interval if interval is not None else 1.0)
            if port.pty.plugged:
                self._send(port, port.device.tick(time.monotonic()))

    def _send(self, port: SimulatedPort, data: bytes) -> None:
        if data:
            port.pty.write(data)
