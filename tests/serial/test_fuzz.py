"""Random and mutated bytes thrown at every decoder: 10,000 hypothesis cases each.

For each stream decoder (the driver's and the simulators'), an example is a byte stream made of
random bytes, a mutation of a valid frame (bit flip, changed byte, insertion, deletion,
truncation, duplication) or valid frames between garbage, fed in random chunks. Whatever comes
in: no exception escapes; every byte is accounted for (in a frame, thrown away, or held as the
start of one); after the flush the driver does before each request and after a timeout, the next
good frame decodes to exactly what was encoded; noise holding no frame-start byte never hides
the frame after it; for checksum-protected frames, one changed byte is always caught. The
whole-frame decoders get the same streams and may only raise FrameError.

Why one drawn buffer per example: hypothesis costs ~0.4 ms per draw here, so an example built
from a dozen draws made 70,000 cases take minutes. Each example therefore draws one byte string
and reads its choices from it in order (`Choices`, like libFuzzer's FuzzedDataProvider):
hypothesis still mutates and shrinks that buffer, and a shorter or smaller buffer is a simpler
case.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.serial.protocols import ascii, mhz19b, modbus, sds011
from drivers.serial.protocols.framing import BadData, FrameError, Framer, StreamParser

CASES_EACH = 10_000
Frame = tuple[bytes, Any]
"""Encoded bytes and the frame they must decode to."""


class Choices:
    """Choices read in order from one byte string; past its end every choice is the smallest."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk.ljust(n, b"\x00")

    def int(self, low: int, high: int) -> int:
        raw = int.from_bytes(self.take(2 if high - low > 0xFF else 1), "big")
        return low + raw % (high - low + 1)

    def some(self, most: int) -> bytes:
        return self.take(self.int(0, most))


def mhz19b_reply(c: Choices) -> Frame:
    data = mhz19b.reading_reply(c.int(0, 0xFFFF), c.int(-40, 215), c.int(0, 0xFF))
    return data, mhz19b.Reply(mhz19b.READ, data[2:8])


def mhz19b_request(c: Choices) -> Frame:
    command, payload = c.int(0, 0xFF), c.take(5)
    return mhz19b.request(command, payload), mhz19b.Request(command, payload)


def sds011_frame(c: Choices) -> Frame:
    device = c.int(0, 0xFFFF)
    if c.int(0, 1):
        p25, p10 = c.int(0, 0xFFFF) / 10, c.int(0, 0xFFFF) / 10
        return sds011.data_frame(p25, p10, device), sds011.Measurement(p25, p10, device)
    command, payload = c.int(0, 0xFF), c.take(3)
    return sds011.reply_frame(command, payload, device), sds011.Reply(command, payload, device)


def sds011_command(c: Choices) -> Frame:
    command, payload, device = c.int(0, 0xFF), c.take(12), c.int(0, 0xFFFF)
    return sds011.command(command, payload, device), sds011.Command(command, payload, device)


def modbus_reply(c: Choices) -> Frame:
    kind = c.int(0, 2)
    function = (modbus.READ_HOLDING, modbus.READ_INPUT)[c.int(0, 1)]
    if kind == 0:
        values = [c.int(0, 0xFFFF) for _ in range(c.int(1, 8))]
        reply: modbus.Reply = modbus.Registers(0xFE, function, tuple(values))
        return modbus.registers_reply(0xFE, function, values), reply
    if kind == 1:
        register, value = c.int(0, 0xFFFF), c.int(0, 0xFFFF)
        return modbus.write_register(0xFE, register, value), modbus.Written(0xFE, register, value)
    code = c.int(1, 6)
    return modbus.exception_reply(0xFE, function, code), modbus.ExceptionReply(0xFE, function, code)


def modbus_request(c: Choices) -> Frame:
    address = (0xFE, 0x68)[c.int(0, 1)]
    register, value = c.int(0, 0xFFFF), c.int(0, 0xFFFF)
    if c.int(0, 1):
        function = (modbus.READ_HOLDING, modbus.READ_INPUT)[c.int(0, 1)]
        count = c.int(1, modbus.MAX_REGISTERS)
        data = modbus.read_registers(address, function, register, count)
        return data, modbus.Request(address, function, register, count)
    data = modbus.write_register(address, register, value)
    return data, modbus.Request(address, modbus.WRITE_SINGLE, register, value)


KEY_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
KEY_REST = KEY_FIRST + "0123456789.-"


def ascii_line(c: Choices) -> Frame:
    values: dict[str, float] = {}
    for _ in range(c.int(1, 5)):
        key = KEY_FIRST[c.int(0, len(KEY_FIRST) - 1)]
        key += "".join(KEY_REST[c.int(0, len(KEY_REST) - 1)] for _ in range(c.int(0, 6)))
        values[key] = (c.int(0, 0xFFFF) * 16 + c.int(0, 15) - 500_000) / 10
    return ascii.encode_line(values, bool(c.int(0, 1))), ascii.Line(values)


@dataclass(frozen=True)
class Case:
    name: str
    framer: Callable[[], Framer[Any]]
    frame: Callable[[Choices], Frame]
    starts: bytes
    """Bytes that can begin a frame (for lines: the newline that ends one)."""
    decode: Callable[[bytes], object]
    """The whole-frame decoder, fed the same streams."""
    catches_one_byte: Callable[[bytes, int], bool] | None = None
    """Whether changing byte i of a valid frame is always caught (None: not claimed)."""


def always(data: bytes, index: int) -> bool:
    return True


def sds011_caught(data: bytes, index: int) -> bool:
    """Byte 1 tells a data frame (C0) from a command reply (C5): C0 -> C5 is another good frame."""
    return index != 1


def modbus_caught(data: bytes, index: int) -> bool:
    """A changed byte count can, rarely, frame a shorter reply whose CRC happens to match."""
    return index != 2 or data[1] == modbus.WRITE_SINGLE or bool(data[1] & modbus.EXCEPTION)


CASES = [
    Case("mhz19b-replies", mhz19b.ReplyFramer, mhz19b_reply, b"\xff", mhz19b.decode_reply, always),
    Case(
        "mhz19b-requests",
        mhz19b.RequestFramer,
        mhz19b_request,
        b"\xff",
        mhz19b.decode_request,
        always,
    ),
    Case("sds011-frames", sds011.FrameFramer, sds011_frame, b"\xaa", sds011.decode, sds011_caught),
    Case(
        "sds011-commands",
        sds011.CommandFramer,
        sds011_command,
        b"\xaa",
        sds011.decode_command,
        always,
    ),
    Case(
        "modbus-replies",
        lambda: modbus.ReplyFramer(0xFE),
        modbus_reply,
        b"\xfe",
        lambda data: modbus.decode_reply(data, 0xFE),
        modbus_caught,
    ),
    Case(
        "modbus-requests",
        lambda: modbus.RequestFramer(frozenset({0xFE, 0x68})),
        modbus_request,
        b"\xfe\x68",
        modbus.decode_request,
        always,
    ),
    Case("ascii-lines", ascii.LineFramer, ascii_line, b"\n", ascii.decode_line),
]

KINDS = ("random", "flip", "change", "insert", "delete", "truncate", "double", "mixed")


@dataclass(frozen=True)
class Trial:
    """One example: a stream for the decoder, where it is cut, a good frame, and noise."""

    stream: bytes
    cuts: list[int]
    good: Frame
    noise: bytes
    changed: int | None
    """The index of the one byte changed in the good frame to make `stream`, if that was it."""


def trial(case: Case, c: Choices) -> Trial:
    good = case.frame(c)
    valid = good[0]
    kind = KINDS[c.int(0, len(KINDS) - 1)]
    i = c.int(0, len(valid) - 1)
    changed = None
    if kind == "random":
        stream = c.some(64)
    elif kind == "flip":
        stream = valid[:i] + bytes([valid[i] ^ (1 << c.int(0, 7))]) + valid[i + 1 :]
        changed = i
    elif kind == "change":
        stream = valid[:i] + bytes([(valid[i] + c.int(1, 0xFF)) & 0xFF]) + valid[i + 1 :]
        changed = i
    elif kind == "insert":
        stream = valid[:i] + c.take(c.int(1, 4)) + valid[i:]
    elif kind == "delete":
        stream = valid[:i] + valid[i + c.int(1, 4) :]
    elif kind == "truncate":
        stream = valid[:i]
    elif kind == "double":
        stream = valid[:i] + valid[i:] + valid[i:]
    else:
        stream = c.some(16) + valid[i:] + case.frame(c)[0] + valid[:i]
    cuts = sorted(c.int(0, len(stream)) for _ in range(c.int(0, 3)))
    noise = bytes(b for b in c.some(24) if b not in case.starts)
    return Trial(stream, cuts, good, noise, changed)


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *[min(cut, len(data)) for cut in cuts], len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def feed_all(parser: StreamParser[Any], parts: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for part in parts:
        out += parser.feed(part)
    return out


def check(case: Case, t: Trial) -> None:
    parser = StreamParser(case.framer())
    out = feed_all(parser, pieces(t.stream, t.cuts))
    stats = parser.stats
    assert stats.good_bytes + stats.bad_bytes + parser.pending == len(t.stream)
    assert sum(not isinstance(item, BadData) for item in out) == stats.frames
    parser.flush()
    assert stats.good_bytes + stats.bad_bytes == len(t.stream)

    good, expected = t.good
    assert parser.feed(good) == [expected], "the next good frame after a flush"

    caught = case.catches_one_byte
    if t.changed is not None and caught is not None and caught(good, t.changed):
        assert all(isinstance(item, BadData) for item in out), "a changed byte got through"
        with pytest.raises(FrameError):
            case.decode(t.stream)
    with contextlib.suppress(FrameError):
        case.decode(t.stream)

    noise = t.noise + (b"\n" if case.starts == b"\n" else b"")
    fresh = StreamParser(case.framer())
    out = feed_all(fresh, pieces(noise + good, t.cuts))
    assert out[-1] == expected, "noise without a frame start hid the frame after it"
    assert fresh.stats.bad_bytes + fresh.stats.good_bytes == len(noise) + len(good)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decoder_survives_random_and_mutated_frames(case: Case) -> None:
    @settings(
        max_examples=CASES_EACH,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.binary(max_size=128))
    def run(data: bytes) -> None:
        check(case, trial(case, Choices(data)))

    run()
