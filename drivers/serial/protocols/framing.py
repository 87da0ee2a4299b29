"""Finding frames in a byte stream, and throwing away what is not one.

A UART gives bytes, not frames: a reply can arrive in pieces, a stream can start mid-frame, a
loose wire adds garbage. Each protocol supplies a `Framer` that looks at the head of the buffer
and says: here is a frame of n bytes, or skip n bytes (garbage, or a candidate that failed its
checksum), or wait for more. `StreamParser` runs it and keeps the counts the driver reports.

A candidate frame that fails its checksum is skipped by one byte only, so a real frame that
starts inside it is still found (resynchronisation on the next frame start).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from campus.problems import DriverError

F = TypeVar("F")
F_co = TypeVar("F_co", covariant=True)

SHOWN_BYTES = 48
"""How many bytes an error message shows in hex: enough to recognise a frame, never a flood."""


def hexbytes(data: bytes | bytearray, limit: int = SHOWN_BYTES) -> str:
    """``FF 86 02 20 ...`` (cut after `limit` bytes, with the total)."""
    text = " ".join(f"{b:02X}" for b in data[:limit])
    if len(data) > limit:
        return f"{text} ... ({len(data)} bytes)"
    return text or "(no bytes)"


class FrameError(DriverError):
    """Bytes that are not a valid frame: `reason` says why, `data` holds them."""

    def __init__(self, reason: str, data: bytes | bytearray) -> None:
        self.reason = reason
        self.data = bytes(data)
        super().__init__(f"{reason}: {hexbytes(data)}")


@dataclass(frozen=True, slots=True)
class Skip:
    """What a framer returns for bytes that cannot start a frame."""

    count: int
    reason: str
    bad_frame: bool = False
    """True when the bytes looked like a frame but failed a check (checksum, CRC, tail)."""


@dataclass(frozen=True, slots=True)
class BadData:
    """Bytes the parser threw away, and the first reason why."""

    data: bytes
    reason: str

    def __str__(self) -> str:
        return f"discarded {len(self.data)} bytes ({self.reason}): {hexbytes(self.data)}"


class Framer(Protocol[F_co]):
    """Looks at the start of the buffer (never empty); returns ``(length, frame)``, a `Skip`,
    or None when the bytes so far may still become a frame."""

    def take(self, buf: bytearray) -> tuple[int, F_co] | Skip | None: ...

    def reset(self) -> None:
        """Forget any state: the buffer was dropped."""
        ...


@dataclass(slots=True)
class ParserStats:
    frames: int = 0
    bad_frames: int = 0
    """Candidates that failed a check (checksum, CRC, structure), and partial frames dropped."""
    bad_bytes: int = 0
    """Every byte thrown away, in bad frames or between frames."""
    good_bytes: int = 0


class StreamParser(Generic[F]):
    """Feeds bytes through a `Framer`; returns frames and runs of discarded bytes, in order."""

    def __init__(self, framer: Framer[F]) -> None:
        self.framer = framer
        self.stats = ParserStats()
        self._buf = bytearray()
        self._bad = bytearray()
        self._reason = ""

    @property
    def pending(self) -> int:
        """Bytes held as the possible start of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[F | BadData]:
        self._buf += data
        out: list[F | BadData] = []
        while self._buf:
            result = self.framer.take(self._buf)
            if result is None:
                break
            if isinstance(result, Skip):
                self._discard(result)
                continue
            length, frame = result
            self._close_bad_run(out)
            del self._buf[:length]
            self.stats.frames += 1
            self.stats.good_bytes += length
            out.append(frame)
        self._close_bad_run(out)
        return out

    def flush(self, reason: str = "incomplete frame") -> BadData | None:
        """Drop the bytes held (a partial frame after a timeout); they count as a bad frame."""
        self.framer.reset()
        if not self._buf:
            return None
        bad = BadData(bytes(self._buf), reason)
        self.stats.bad_frames += 1
        self.stats.bad_bytes += len(self._buf)
        self._buf.clear()
        return bad

    def _discard(self, skip: Skip) -> None:
        count = max(1, min(skip.count, len(self._buf)))
        if not self._bad:
            self._reason = skip.reason
        self._bad += self._buf[:count]
        del self._buf[:count]
        self.stats.bad_bytes += count
        if skip.bad_frame:
            self.stats.bad_frames += 1

    def _close_bad_run(self, out: list[F | BadData]) -> None:
        if self._bad:
            out.append(BadData(bytes(self._bad), self._reason))
            self._bad.clear()


def skip_to(buf: bytearray, start: int, what: str) -> Skip:
    """Skip up to the next `start` byte (or the whole buffer): bytes that begin no frame."""
    index = buf.find(start, 1)
    return Skip(index if index > 0 else len(buf), f"no frame start ({what})")
