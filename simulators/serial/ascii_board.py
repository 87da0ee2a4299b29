"""A simulated Arduino-style board printing ``lux=312 occ=1 t=21.5`` once a second.

Its keys are the board's own (`BOARD_KEYS`), so a port needs a key map, as a real board's would.
With `with_checksum` its lines end in an NMEA-style ``*hh``; a bad-checksum fault always sends
one that is wrong. It ignores what the host sends.
"""

from __future__ import annotations

from campus.model import SerialProtocol
from drivers.serial.protocols import ascii
from simulators.serial.device import DeviceBase, Faults, ValueSource

BOARD_KEYS = {"lux": "illuminance", "occ": "occupancy", "t": "temperature"}
"""The board's key -> the room value it prints (the key map a port for this board needs)."""


class AsciiBoardDevice(DeviceBase):
    protocol = SerialProtocol.ASCII

    def __init__(
        self,
        source: ValueSource,
        faults: Faults | None = None,
        *,
        interval: float = 1.0,
        with_checksum: bool = False,
    ) -> None:
        super().__init__(source, faults)
        self.tick_interval: float | None = interval
        self.with_checksum = with_checksum

    def receive(self, data: bytes) -> bytes:
        return b""

    def tick(self, now: float) -> bytes:
        values: dict[str, float | int] = {}
        for key, name in BOARD_KEYS.items():
            measured = self.source(name)
            if measured is None:
                continue
            if name == "occupancy":
                values[key] = int(bool(measured))
            elif name == "temperature":
                values[key] = round(float(measured), 1)
            else:
                values[key] = round(float(measured))
        return self.emit(ascii.encode_line(values, self.with_checksum))

    def corrupt(self, frame: bytes) -> bytes:
        text = frame.rstrip(b"\n")
        if b"*" in text:
            text = text[: text.rindex(b"*")]
        wrong = ascii.checksum(text) ^ 0xFF
        return text + f"*{wrong:02X}\n".encode("ascii")
