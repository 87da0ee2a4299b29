"""One injected clock for everything that needs the time.

Times are POSIX seconds (float). `WallClock` is real time for `campusctl run` on real devices;
`ScaledClock` runs the demo and end-to-end tests faster than real time, and two processes built
with the same anchor and speed agree on the time; `VirtualClock` only moves when told to, for
deterministic tests.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What every component asks of the time."""

    @property
    def speed(self) -> float:
        """Clock seconds per wall-clock second."""
        ...

    def now(self) -> float:
        """The current clock time in POSIX seconds."""
        ...

    async def sleep_until(self, t: float) -> None:
        """Return once `now() >= t`."""
        ...


class WallClock:
    """Real time."""

    speed = 1.0

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, t: float) -> None:
        delay = t - self.now()
        if delay > 0:
            await asyncio.sleep(delay)


class ScaledClock:
    """Time that runs `speed` times faster than the wall clock, from `start` at wall time `anchor`.

    Processes given the same `start`, `speed` and `anchor` read the same time.
    """

    def __init__(self, start: float, speed: float, anchor: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.start = start
        self.speed = speed
        self.anchor = time.time() if anchor is None else anchor

    def now(self) -> float:
        return self.start + (time.time() - self.anchor) * self.speed

    async def sleep_until(self, t: float) -> None:
        delay = (t - self.now()) / self.speed
        if delay > 0:
            await asyncio.sleep(delay)


class VirtualClock:
    """Time that moves only by `advance`/`set`; `sleep_until` waits for that to happen."""

    speed = 1.0

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._moved = asyncio.Event() if _has_loop() else None

    def now(self) -> float:
        return self._now

    def set(self, t: float) -> None:
        if t < self._now:
            raise ValueError(f"virtual time cannot go back from {self._now} to {t}")
        self._now = t
        if self._moved is not None:
            self._moved.set()

    def advance(self, seconds: float) -> None:
        self.set(self._now + seconds)

    async def sleep_until(self, t: float) -> None:
        if self._moved is None:
            self._moved = asyncio.Event()
        while self._now < t:
            self._moved.clear()
            await self._moved.wait()


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def parse_start(text: str, timezone: str) -> float:
    """A clock start given as POSIX seconds or as local ISO time in the site's time zone.

    ``"2026-11-23 07:50"`` and ``"2026-11-23T07:50:00"`` are read in `timezone`; a time with an
    offset (``...+01:00``) keeps its own.
    """
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"clock start {text!r} is neither POSIX seconds nor ISO time like 2026-11-23 07:50"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.timestamp()
