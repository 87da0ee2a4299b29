"""Nova SDS011 laser dust sensor: 9600 8N1; streams a frame a second by default (active mode).

Source: Nova "Laser Dust Sensor Control Protocol V1.3" (2015), via docs/domain.md.

- Sensor frames have 10 bytes, ``AA kind b2..b7 CS AB`` with CS = sum of bytes 2..7 & 0xFF.
  Data (kind C0): ``AA C0 P25L P25H P10L P10H ID1 ID2 CS AB``, PM = (H*256 + L) / 10 µg/m³.
  Command replies (kind C5): ``AA C5 CMD D1 D2 D3 ID1 ID2 CS AB``.
- Commands have 19 bytes, ``AA B4 CMD D1..D12 ID1 ID2 CS AB`` with CS = sum of bytes 2..16;
  ID ``FF FF`` addresses every sensor. D1 is 1 to set, 0 to ask the current setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.serial.protocols.framing import FrameError, Skip, skip_to

HEAD = 0xAA
TAIL = 0xAB
DATA = 0xC0
REPLY = 0xC5
COMMAND = 0xB4
FRAME = 10
COMMAND_FRAME = 19

REPORTING_MODE = 0x02
"""D1 set, D2 0 = active (streaming), 1 = query."""
QUERY = 0x04
SET_ID = 0x05
SLEEP_WORK = 0x06
"""D1 set, D2 0 = sleep, 1 = work."""
FIRMWARE = 0x07
WORKING_PERIOD = 0x08
"""D1 set, D2 0 = continuous, 1-30 = one measurement every n minutes."""
ALL = 0xFFFF
"""The device id that every sensor answers to."""
SET = 1
ASK = 0


@dataclass(frozen=True, slots=True)
class Measurement:
    pm2_5: float
    """µg/m³."""
    pm10: float
    device: int


@dataclass(frozen=True, slots=True)
class Reply:
    """A C5 frame: the command answered, its three data bytes, the sensor's id."""

    command: int
    data: bytes
    device: int


@dataclass(frozen=True, slots=True)
class Command:
    """A 19-byte command, as the sensor sees it."""

    command: int
    data: bytes
    """D1..D12."""
    device: int


def checksum(data: bytes | bytearray) -> int:
    return sum(data) & 0xFF


def command(cmd: int, data: bytes = b"", device: int = ALL) -> bytes:
    """``AA B4 cmd data(12, zero padded) ID1 ID2 CS AB``."""
    if len(data) > 12:
        raise ValueError(f"an SDS011 command carries at most 12 data bytes, got {len(data)}")
    body = bytes([cmd]) + data.ljust(12, b"\x00") + device.to_bytes(2, "big")
    return bytes([HEAD, COMMAND]) + body + bytes([checksum(body), TAIL])


def query_request(device: int = ALL) -> bytes:
    """Ask for one data frame (query mode): ``AA B4 04 00*12 FF FF 02 AB``."""
    return command(QUERY, device=device)


def reporting_mode_request(query: bool, device: int = ALL) -> bytes:
    """Set query mode (True: a frame per query) or active mode (False: a frame a second)."""
    return command(REPORTING_MODE, bytes([SET, 1 if query else 0]), device)


def sleep_request(sleep: bool, device: int = ALL) -> bytes:
    """Sleep (fan and laser off) or work."""
    return command(SLEEP_WORK, bytes([SET, 0 if sleep else 1]), device)


def working_period_request(minutes: int, device: int = ALL) -> bytes:
    """0: continuous (a frame a second); 1-30: work 30 s and report once every n minutes."""
    if not 0 <= minutes <= 30:
        raise ValueError(f"SDS011 working period is 0-30 minutes, got {minutes}")
    return command(WORKING_PERIOD, bytes([SET, minutes]), device)


def firmware_request(device: int = ALL) -> bytes:
    return command(FIRMWARE, device=device)


def frame(kind: int, payload: bytes, device: int) -> bytes:
    """A 10-byte sensor frame: ``AA kind payload(4) ID1 ID2 CS AB``."""
    body = payload.ljust(4, b"\x00")[:4] + device.to_bytes(2, "big")
    return bytes([HEAD, kind]) + body + bytes([checksum(body), TAIL])


def data_frame(pm2_5: float, pm10: float, device: int) -> bytes:
    """What the sensor sends with a measurement (tenths of µg/m³, little-endian)."""
    p25 = max(0, min(0xFFFF, round(pm2_5 * 10)))
    p10 = max(0, min(0xFFFF, round(pm10 * 10)))
    return frame(DATA, p25.to_bytes(2, "little") + p10.to_bytes(2, "little"), device)


def reply_frame(cmd: int, data: bytes, device: int) -> bytes:
    """The sensor's answer to a command: ``AA C5 cmd D1 D2 D3 ID1 ID2 CS AB``."""
    return frame(REPLY, bytes([cmd]) + data.ljust(3, b"\x00")[:3], device)


def decode(data: bytes) -> Measurement | Reply:
    """One 10-byte sensor frame; raises FrameError naming what is wrong."""
    if len(data) != FRAME:
        raise FrameError(f"an SDS011 frame has {FRAME} bytes, got {len(data)}", data)
    result = _FRAMER.take(bytearray(data))
    if isinstance(result, Skip) or result is None:
        raise FrameError(result.reason if result else "not an SDS011 frame", data)
    return result[1]


def decode_command(data: bytes) -> Command:
    """One 19-byte command (the simulator's side); raises FrameError."""
    if len(data) != COMMAND_FRAME:
        raise FrameError(f"an SDS011 command has {COMMAND_FRAME} bytes, got {len(data)}", data)
    result = CommandFramer().take(bytearray(data))
    if isinstance(result, Skip) or result is None:
        raise FrameError(result.reason if result else "not an SDS011 command", data)
    return result[1]


class FrameFramer:
    """Finds data frames and command replies in what the sensor sends."""

    def reset(self) -> None:
        pass

    def take(self, buf: bytearray) -> tuple[int, Measurement | Reply] | Skip | None:
        bad = _check(buf, (DATA, REPLY), FRAME)
        if bad is not None or len(buf) < FRAME:
            return bad
        device = buf[6] << 8 | buf[7]
        if buf[1] == DATA:
            p25 = buf[2] | buf[3] << 8
            p10 = buf[4] | buf[5] << 8
            return FRAME, Measurement(p25 / 10.0, p10 / 10.0, device)
        return FRAME, Reply(buf[2], bytes(buf[3:6]), device)


class CommandFramer:
    """Finds 19-byte commands in what the host sends (the simulator's side)."""

    def reset(self) -> None:
        pass

    def take(self, buf: bytearray) -> tuple[int, Command] | Skip | None:
        bad = _check(buf, (COMMAND,), COMMAND_FRAME)
        if bad is not None or len(buf) < COMMAND_FRAME:
            return bad
        return COMMAND_FRAME, Command(buf[2], bytes(buf[3:15]), buf[15] << 8 | buf[16])


def _check(buf: bytearray, kinds: tuple[int, ...], size: int) -> Skip | None:
    if buf[0] != HEAD:
        return skip_to(buf, HEAD, "AA")
    if len(buf) >= 2 and buf[1] not in kinds:
        wanted = "/".join(f"{k:02X}" for k in kinds)
        return Skip(1, f"AA not followed by {wanted}")
    if len(buf) < size:
        return None
    if buf[size - 1] != TAIL:
        return Skip(1, f"no AB at byte {size - 1}", bad_frame=True)
    want = checksum(buf[2 : size - 2])
    if buf[size - 2] != want:
        return Skip(1, f"bad checksum 0x{buf[size - 2]:02X}, want 0x{want:02X}", bad_frame=True)
    return None


_FRAMER = FrameFramer()
