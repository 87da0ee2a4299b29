"""What every simulated serial device shares: where its values come from, and its faults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from campus.model import SerialProtocol

ValueSource = Callable[[str], float | None]
"""The value a sensor measures now, by standard point name (``co2``, ``pm2_5``, ...); None if
the room has no model for it."""


@dataclass
class Faults:
    """Faults a test (or a curious integrator) switches on while the device runs."""

    silent: bool = False
    """Answer nothing and stream nothing: a dead sensor on a live line."""
    bad_checksum: bool = False
    """Every frame goes out with a wrong checksum or CRC."""
    noise: bytes = b""
    """Sent before every frame: a noisy line."""


class SerialDevice(Protocol):
    protocol: SerialProtocol
    faults: Faults
    tick_interval: float | None
    """Wall seconds between `tick` calls (None: the device only answers)."""

    def receive(self, data: bytes) -> bytes:
        """Bytes from the host -> the bytes the device sends back."""
        ...

    def tick(self, now: float) -> bytes:
        """Unsolicited bytes due at monotonic time `now` (a streaming device's frames)."""
        ...


class DeviceBase:
    """Applies the faults to what a device sends; devices implement `corrupt`."""

    def __init__(self, source: ValueSource, faults: Faults | None) -> None:
        self.source = source
        self.faults = faults or Faults()

    def emit(self, frame: bytes) -> bytes:
        if self.faults.silent:
            return b""
        if self.faults.bad_checksum:
            frame = self.corrupt(frame)
        return self.faults.noise + frame

    def corrupt(self, frame: bytes) -> bytes:
        raise NotImplementedError

    def value(self, name: str, default: float) -> float:
        measured = self.source(name)
        return default if measured is None else float(measured)


def flip(frame: bytes, index: int) -> bytes:
    """`frame` with the byte at `index` changed (a checksum that no longer matches)."""
    data = bytearray(frame)
    data[index] ^= 0x01
    return bytes(data)
