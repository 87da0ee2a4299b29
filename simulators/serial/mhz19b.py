"""A simulated Winsen MH-Z19B: answers reads, takes calibration, ABC and range commands silently.

As the real sensor: requests with a bad checksum are ignored; zero calibration makes what it
measures now read 400 ppm; readings are clipped to the detection range (5000 ppm by default).
"""

from __future__ import annotations

from campus.model import SerialProtocol
from drivers.serial.protocols import mhz19b
from drivers.serial.protocols.framing import BadData, StreamParser
from simulators.serial.device import DeviceBase, Faults, ValueSource, flip

FRESH_AIR = 400.0
DEFAULT_RANGE = 5000


class Mhz19bDevice(DeviceBase):
    protocol = SerialProtocol.MHZ19B
    tick_interval: float | None = None

    def __init__(self, source: ValueSource, faults: Faults | None = None) -> None:
        super().__init__(source, faults)
        self.offset = 0.0
        self.abc = True
        self.range = DEFAULT_RANGE
        self.span: int | None = None
        self.requests: list[mhz19b.Request] = []
        """Every valid request received, oldest first."""
        self._parser = StreamParser(mhz19b.RequestFramer())

    def receive(self, data: bytes) -> bytes:
        out = b""
        for item in self._parser.feed(data):
            if not isinstance(item, BadData):
                self.requests.append(item)
                out += self._answer(item)
        return out

    def tick(self, now: float) -> bytes:
        return b""

    def corrupt(self, frame: bytes) -> bytes:
        return flip(frame, 8)

    def co2(self) -> int:
        measured = self.value("co2", FRESH_AIR) + self.offset
        return max(0, min(self.range, round(measured)))

    def _answer(self, request: mhz19b.Request) -> bytes:
        match request.command:
            case mhz19b.READ:
                temperature = round(self.value("temperature", 25.0))
                return self.emit(mhz19b.reading_reply(self.co2(), temperature))
            case mhz19b.ZERO:
                self.offset = FRESH_AIR - self.value("co2", FRESH_AIR)
            case mhz19b.ABC:
                self.abc = request.data[0] == mhz19b.ABC_ON
            case mhz19b.RANGE:
                self.range = int.from_bytes(request.data[3:5], "big") or self.range
            case mhz19b.SPAN:
                self.span = int.from_bytes(request.data[0:2], "big")
        return b""
