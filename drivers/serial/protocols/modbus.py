"""Modbus RTU, as much as a Senseair S8 speaks: read holding/input registers, write one register.

CRC-16/MODBUS: init 0xFFFF, reflected polynomial 0xA001, sent low byte first; check value of
"123456789" is 0x4B37. Register data is big-endian. Frames (after the address byte):

- request 03/04: ``addr fn reg(2) count(2) CRC``; 06: ``addr 06 reg(2) value(2) CRC``
- reply 03/04: ``addr fn bytecount data CRC``; 06 echoes the request;
  exception: ``addr fn|0x80 code CRC``.

RTU separates frames by 3.5 character times of silence; over a pipe or a pty that timing is gone,
so the framer finds frames by structure and CRC instead, and the driver resets between polls.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.serial.protocols.framing import FrameError, Skip, skip_to

READ_HOLDING = 0x03
READ_INPUT = 0x04
WRITE_SINGLE = 0x06
EXCEPTION = 0x80
MAX_REGISTERS = 125
"""The most registers one read may ask for (Modbus spec)."""

EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
}


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc16(data: bytes | bytearray) -> int:
    """CRC-16/MODBUS of `data`."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


def with_crc(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "little")


def crc_ok(frame: bytes | bytearray) -> bool:
    return len(frame) >= 3 and crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")


def read_registers(address: int, function: int, start: int, count: int) -> bytes:
    """A read request (function 03 holding or 04 input registers)."""
    if not 1 <= count <= MAX_REGISTERS:
        raise ValueError(f"Modbus reads 1..{MAX_REGISTERS} registers, not {count}")
    return with_crc(bytes([address, function]) + _u16(start) + _u16(count))


def write_register(address: int, register: int, value: int) -> bytes:
    """A write-single-register request (function 06); the device echoes it."""
    return with_crc(bytes([address, WRITE_SINGLE]) + _u16(register) + _u16(value))


@dataclass(frozen=True, slots=True)
class Registers:
    """The reply to a read: the register values, in order."""

    address: int
    function: int
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Written:
    """The reply to a write (an echo of the request)."""

    address: int
    register: int
    value: int


@dataclass(frozen=True, slots=True)
class ExceptionReply:
    address: int
    function: int
    """The function that failed (without the 0x80 bit)."""
    code: int

    @property
    def meaning(self) -> str:
        return EXCEPTIONS.get(self.code, "unknown exception")


Reply = Registers | Written | ExceptionReply


@dataclass(frozen=True, slots=True)
class Request:
    """A request as the device sees it: for reads `value` is the register count."""

    address: int
    function: int
    register: int
    value: int


def registers_reply(address: int, function: int, values: list[int]) -> bytes:
    data = b"".join(_u16(v) for v in values)
    return with_crc(bytes([address, function, len(data)]) + data)


def exception_reply(address: int, function: int, code: int) -> bytes:
    return with_crc(bytes([address, function | EXCEPTION, code]))


def decode_reply(frame: bytes, address: int) -> Reply:
    """One whole reply from the device at `address`; raises FrameError."""
    if not frame:
        raise FrameError("no bytes", frame)
    result = ReplyFramer(address).take(bytearray(frame))
    if result is None:
        raise FrameError("incomplete Modbus reply", frame)
    if isinstance(result, Skip):
        raise FrameError(result.reason, frame)
    length, reply = result
    if length != len(frame):
        raise FrameError(f"{len(frame) - length} bytes after the Modbus reply", frame)
    return reply


def decode_request(frame: bytes) -> Request:
    """One whole 8-byte request (the simulator's side); raises FrameError."""
    if len(frame) != 8:
        raise FrameError(f"a Modbus request here has 8 bytes, got {len(frame)}", frame)
    if not crc_ok(frame):
        raise FrameError("bad CRC", frame)
    return _request(frame)


class ReplyFramer:
    """Finds replies from one device address in what the bus carries."""

    def __init__(self, address: int) -> None:
        self.address = address

    def reset(self) -> None:
        pass

    def take(self, buf: bytearray) -> tuple[int, Reply] | Skip | None:
        if buf[0] != self.address:
            return skip_to(buf, self.address, f"address {self.address:02X}")
        if len(buf) < 3:
            return None
        function = buf[1]
        if function in (READ_HOLDING, READ_INPUT):
            count = buf[2]
            if count == 0 or count % 2 or count > 2 * MAX_REGISTERS:
                return Skip(1, f"impossible byte count {count}", bad_frame=True)
            length = 5 + count
        elif function == WRITE_SINGLE:
            length = 8
        elif function & EXCEPTION and function & ~EXCEPTION in (
            READ_HOLDING,
            READ_INPUT,
            WRITE_SINGLE,
        ):
            length = 5
        else:
            return Skip(1, f"unknown function 0x{function:02X}")
        if len(buf) < length:
            return None
        if not crc_ok(buf[:length]):
            return Skip(1, "bad CRC", bad_frame=True)
        return length, _reply(bytes(buf[:length]))


class RequestFramer:
    """Finds 8-byte requests for the given addresses (the simulator's side)."""

    def __init__(self, addresses: frozenset[int]) -> None:
        self.addresses = addresses

    def reset(self) -> None:
        pass

    def take(self, buf: bytearray) -> tuple[int, Request] | Skip | None:
        if buf[0] not in self.addresses:
            starts = [i for i in range(1, len(buf)) if buf[i] in self.addresses]
            return Skip(starts[0] if starts else len(buf), "no frame start (device address)")
        if len(buf) < 8:
            return None
        if not crc_ok(buf[:8]):
            return Skip(1, "bad CRC", bad_frame=True)
        return 8, _request(bytes(buf[:8]))


def _reply(frame: bytes) -> Reply:
    address, function = frame[0], frame[1]
    if function & EXCEPTION:
        return ExceptionReply(address, function & ~EXCEPTION, frame[2])
    if function == WRITE_SINGLE:
        return Written(address, _get(frame, 2), _get(frame, 4))
    count = frame[2]
    return Registers(address, function, tuple(_get(frame, 3 + 2 * i) for i in range(count // 2)))


def _request(frame: bytes) -> Request:
    return Request(frame[0], frame[1], _get(frame, 2), _get(frame, 4))


def _u16(value: int) -> bytes:
    return (value & 0xFFFF).to_bytes(2, "big")


def _get(frame: bytes, offset: int) -> int:
    return frame[offset] << 8 | frame[offset + 1]
