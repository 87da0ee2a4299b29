"""Winsen MH-Z19B NDIR CO2 sensor: 9600 8N1, 9-byte frames, polled.

Requests are ``FF 01 CMD b3..b7 CS``, replies ``FF CMD b2..b7 CS``, with
CS = (0xFF - (sum of bytes 1..7 & 0xFF) + 1) & 0xFF (Winsen MH-Z19B manual v1.0, p.7).
A read (0x86) answers ``FF 86 HH LL TT SS U1 U2 CS``: ppm = HH*256 + LL; TT = °C + 40 is
undocumented and unreliable (a board temperature at best). Zero calibration (0x87), span (0x88),
ABC on/off (0x79) and range (0x99) get no reply. The range goes in bytes 6-7, not 3-4 as the
datasheet says (docs/domain.md; revspace.nl MHZ19).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drivers.serial.protocols.framing import FrameError, Skip, skip_to

START = 0xFF
SENSOR = 0x01
"""Byte 1 of every request (the sensor number)."""
FRAME = 9

READ = 0x86
ZERO = 0x87
SPAN = 0x88
ABC = 0x79
RANGE = 0x99
ANSWERED = frozenset({READ, 0x9B, 0xA0})
"""Commands a reply can carry: read CO2, and the undocumented range and firmware reads."""
ABC_ON = 0xA0

TEMPERATURE_OFFSET = 40


def checksum(frame: bytes | bytearray) -> int:
    """The checksum of a 9-byte frame (over bytes 1..7)."""
    return (0xFF - (sum(frame[1:8]) & 0xFF) + 1) & 0xFF


def request(command: int, data: bytes = b"") -> bytes:
    """``FF 01 command data... CS`` with `data` (up to 5 bytes) padded with zeros."""
    if len(data) > 5:
        raise ValueError(f"an MH-Z19B request carries at most 5 data bytes, got {len(data)}")
    body = bytes([START, SENSOR, command]) + data.ljust(5, b"\x00")
    return body + bytes([checksum(body)])


def read_request() -> bytes:
    """``FF 01 86 00 00 00 00 00 79``."""
    return request(READ)


def zero_request() -> bytes:
    """Zero-point calibration: the sensor takes what it measures now as 400 ppm (fresh air)."""
    return request(ZERO)


def span_request(ppm: int) -> bytes:
    """Span calibration at `ppm` (the datasheet's example: 2000 ppm)."""
    return request(SPAN, ppm.to_bytes(2, "big"))


def abc_request(on: bool) -> bytes:
    """Automatic baseline correction (every 24 h) on or off."""
    return request(ABC, bytes([ABC_ON if on else 0x00]))


def range_request(ppm: int) -> bytes:
    """Detection range (2000, 5000, 10000 ppm), in bytes 6-7."""
    return request(RANGE, b"\x00\x00\x00" + ppm.to_bytes(2, "big"))


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply frame: the command it answers and its six data bytes (frame bytes 2..7)."""

    command: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Reading:
    co2: int
    """ppm."""
    temperature: int
    """°C; undocumented, a rough board temperature."""
    status: int


@dataclass(frozen=True, slots=True)
class Request:
    """A request frame, as the sensor sees it: command and data bytes 3..7."""

    command: int
    data: bytes


def reply(command: int, data: bytes) -> bytes:
    """``FF command data CS``: what the sensor sends (the simulator uses it)."""
    body = bytes([START, command]) + data.ljust(6, b"\x00")[:6]
    return body + bytes([checksum(body)])


def reading_reply(co2: int, temperature: int, status: int = 0) -> bytes:
    """The answer to a read: ``FF 86 HH LL TT SS 00 00 CS``."""
    co2 = max(0, min(0xFFFF, co2))
    tt = max(0, min(0xFF, temperature + TEMPERATURE_OFFSET))
    return reply(READ, co2.to_bytes(2, "big") + bytes([tt, status & 0xFF]))


def decode_reply(frame: bytes) -> Reply:
    """A 9-byte reply; raises FrameError naming what is wrong."""
    _check(frame, lambda b1: b1 in ANSWERED, "an MH-Z19B reply")
    return Reply(frame[1], bytes(frame[2:8]))


def decode_reading(frame: bytes) -> Reading:
    """The answer to a read (``FF 86 ...``); raises FrameError."""
    answer = decode_reply(frame)
    if answer.command != READ:
        raise FrameError(f"not a CO2 reading (command 0x{answer.command:02X})", frame)
    return reading_of(answer)


def reading_of(answer: Reply) -> Reading:
    data = answer.data
    return Reading(data[0] * 256 + data[1], data[2] - TEMPERATURE_OFFSET, data[3])


def decode_request(frame: bytes) -> Request:
    """A 9-byte request (the simulator's side); raises FrameError."""
    _check(frame, lambda b1: b1 == SENSOR, "an MH-Z19B request")
    return Request(frame[2], bytes(frame[3:8]))


def _check(frame: bytes, second: Callable[[int], bool], what: str) -> None:
    if len(frame) != FRAME:
        raise FrameError(f"{what} has {FRAME} bytes, got {len(frame)}", frame)
    if frame[0] != START or not second(frame[1]):
        raise FrameError(f"not {what}", frame)
    want = checksum(frame)
    if frame[8] != want:
        raise FrameError(f"bad checksum 0x{frame[8]:02X}, want 0x{want:02X}", frame)


class _Framer:
    def __init__(self, second: frozenset[int], kind: str) -> None:
        self._second = second
        self._kind = kind

    def reset(self) -> None:
        pass

    def _take(self, buf: bytearray) -> Skip | None:
        """Checks every frame shares; None when `buf` starts a whole, valid frame."""
        if buf[0] != START:
            return skip_to(buf, START, "FF")
        if len(buf) >= 2 and buf[1] not in self._second:
            return Skip(1, f"FF not followed by {self._kind}")
        if len(buf) < FRAME:
            return None
        want = checksum(buf)
        if buf[8] != want:
            return Skip(1, f"bad checksum 0x{buf[8]:02X}, want 0x{want:02X}", bad_frame=True)
        return None


class ReplyFramer(_Framer):
    """Finds sensor replies (``FF 86 ...``) in what the sensor sends."""

    def __init__(self) -> None:
        super().__init__(ANSWERED, "a known reply command")

    def take(self, buf: bytearray) -> tuple[int, Reply] | Skip | None:
        problem = self._take(buf)
        if problem is not None or len(buf) < FRAME:
            return problem
        return FRAME, Reply(buf[1], bytes(buf[2:8]))


class RequestFramer(_Framer):
    """Finds requests (``FF 01 ...``) in what the host sends (the simulator's side)."""

    def __init__(self) -> None:
        super().__init__(frozenset({SENSOR}), "01")

    def take(self, buf: bytearray) -> tuple[int, Request] | Skip | None:
        problem = self._take(buf)
        if problem is not None or len(buf) < FRAME:
            return problem
        return FRAME, Request(buf[2], bytes(buf[3:8]))
