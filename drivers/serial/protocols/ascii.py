"""A line-based ASCII protocol for Arduino-style boards: ``lux=312 occ=1 t=21.5``.

One line per report, ended by ``\\n`` (a ``\\r`` before it is ignored). Pairs ``key=value`` are
separated by spaces, tabs or commas; values are decimal numbers. A line may end with an
NMEA-style checksum, ``*hh``: the XOR of every byte before the ``*``, in hex; a board that sends
one gets its lines checked, a board that does not is trusted. Lines starting with ``#`` are the
board's comments and are skipped. A port's key map renames the board's keys to field names
(``lux`` -> ``illuminance``), so the board's firmware need not know campusctl's names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from drivers.serial.protocols.framing import FrameError, Skip

MAX_LINE = 200
"""Longer lines are thrown away whole: no board report is that long."""
KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
SEPARATORS = re.compile(r"[ \t,]+")


@dataclass(frozen=True, slots=True)
class Line:
    """The values of one report line, by the board's keys, in the order sent."""

    values: dict[str, float]


def checksum(text: bytes) -> int:
    """XOR of the bytes (NMEA style)."""
    value = 0
    for byte in text:
        value ^= byte
    return value


def encode_line(values: Mapping[str, float | int | bool], with_checksum: bool = False) -> bytes:
    """``lux=312 occ=1 t=21.5\\n`` (bools as 0/1), optionally with ``*hh`` before the newline."""
    parts = []
    for key, value in values.items():
        if not KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a key a board can send (letters, digits, _ . -)")
        number = int(value) if isinstance(value, bool) else value
        parts.append(f"{key}={number:g}" if isinstance(number, float) else f"{key}={number}")
    text = " ".join(parts).encode("ascii")
    if with_checksum:
        text += f"*{checksum(text):02X}".encode("ascii")
    return text + b"\n"


def decode_line(line: bytes) -> Line | None:
    """One line (with or without its newline); None for a blank line or a ``#`` comment.
    Raises FrameError saying what is wrong."""
    text = line.rstrip(b"\r\n")
    if b"\n" in text or b"\r" in text:
        raise FrameError("a line break inside the line", line)
    if any((b < 0x20 and b != 0x09) or b > 0x7E for b in text):
        raise FrameError("bytes that are not printable ASCII", line)
    if len(text) > MAX_LINE:
        raise FrameError(f"line longer than {MAX_LINE} bytes", line)
    star = text.rfind(b"*")
    if star >= 0:
        sent = text[star + 1 :]
        if not re.fullmatch(rb"[0-9A-Fa-f]{2}", sent):
            raise FrameError("'*' not followed by a two-digit hex checksum", line)
        want = checksum(text[:star])
        if int(sent, 16) != want:
            raise FrameError(f"bad checksum {sent.decode()}, want {want:02X}", line)
        text = text[:star]
    body = text.decode("ascii").strip(" \t,")
    if not body or body.startswith("#"):
        return None
    values: dict[str, float] = {}
    for pair in SEPARATORS.split(body):
        key, eq, raw = pair.partition("=")
        if not eq or not KEY.fullmatch(key):
            raise FrameError(f"{pair!r} is not key=value", line)
        if not NUMBER.fullmatch(raw):
            raise FrameError(f"{key}={raw!r} is not a number", line)
        number = float(raw)
        if not math.isfinite(number):
            raise FrameError(f"{key}={raw} is too large", line)
        if key in values:
            raise FrameError(f"{key} twice in one line", line)
        values[key] = number
    return Line(values)


def rename(line: Line, keys: Mapping[str, str]) -> tuple[dict[str, float], list[str]]:
    """The line's values under the port's field names, and the board keys the map lacks.
    An empty map keeps the board's keys."""
    if not keys:
        return dict(line.values), []
    fields = {keys[k]: v for k, v in line.values.items() if k in keys}
    return fields, [k for k in line.values if k not in keys]


class LineFramer:
    """Cuts the stream into lines; an overlong line is dropped up to its newline. Blank lines
    and comments come out as lines without values."""

    def __init__(self) -> None:
        self._overflow = False

    def reset(self) -> None:
        self._overflow = False

    def take(self, buf: bytearray) -> tuple[int, Line] | Skip | None:
        end = buf.find(b"\n")
        if self._overflow:
            if end < 0:
                return Skip(len(buf), "the rest of an overlong line")
            self._overflow = False
            return Skip(end + 1, "the rest of an overlong line")
        if end < 0:
            if len(buf) > MAX_LINE:
                self._overflow = True
                return Skip(len(buf), f"line longer than {MAX_LINE} bytes", bad_frame=True)
            return None
        try:
            line = decode_line(bytes(buf[: end + 1]))
        except FrameError as exc:
            return Skip(end + 1, exc.reason, bad_frame=True)
        return end + 1, line or Line({})
