"""What the control plane remembers for clients that arrive late: the last hour of each point
(the TUI's sparklines) and the most recent events (the TUI's event log on opening).

A campus has tens of thousands of points, so a point's hour is one fixed array of per-minute
values (the last reading of each minute) instead of a list of readings: about half a kilobyte
per point whatever the reading rate, created on the point's first reading.
"""

from __future__ import annotations

import math
from array import array
from collections import deque

from campus import wire

MINUTE = 60.0


class MinuteSeries:
    """The last reading of each of the last `minutes` clock minutes (NaN: no reading)."""

    __slots__ = ("end", "last", "slot", "start", "values")

    def __init__(self, minutes: int) -> None:
        self.values = array("d", [math.nan] * minutes)
        self.last = -1
        """The minute number (clock seconds // 60) written last."""
        self.start = math.inf
        self.end = -math.inf
        """[start, end): the clock seconds of minute `last`, whose value is `values[slot]`
        (none before the first reading); a reading in it is one comparison and one store."""
        self.slot = 0

    def add(self, ts: float, value: float | bool) -> None:
        """Take a reading (a bool is stored as 1.0 or 0.0)."""
        if self.start <= ts < self.end:
            self.values[self.slot] = value
            return
        minute = int(ts // MINUTE)
        size = len(self.values)
        if minute < self.last:
            if self.last - minute < size:
                self.values[minute % size] = value
            return
        gap = min(minute - self.last, size + 1) if self.last >= 0 else size + 1
        for skipped in range(1, gap):
            self.values[(minute - skipped) % size] = math.nan
        self.slot = minute % size
        self.values[self.slot] = value
        self.last = minute
        self.start = minute * MINUTE
        self.end = self.start + MINUTE

    def window(self, now: float) -> list[float | None]:
        """Oldest first, one entry per minute ending with the minute of `now`."""
        size = len(self.values)
        end = int(now // MINUTE)
        out: list[float | None] = []
        for minute in range(end - size + 1, end + 1):
            if minute > self.last or self.last - minute >= size:
                out.append(None)
                continue
            value = self.values[minute % size]
            out.append(None if math.isnan(value) else value)
        return out


class Recent:
    """Per-point minute series and a ring of recent events (see the module docstring)."""

    def __init__(self, minutes: int = 60, events: int = 500) -> None:
        if minutes < 1:
            raise ValueError(f"recent needs at least one minute, got {minutes}")
        self.minutes = minutes
        self.by_point: dict[str, MinuteSeries] = {}
        """Each point's series (the control plane folds its points' last readings into them:
        `ControlPlane._fold`)."""
        self._events: deque[wire.Event] = deque(maxlen=events)

    def add_reading(self, point: str, ts: float, value: float | bool | None) -> None:
        """A reading of `point` (None: no value, nothing kept)."""
        if value is None:
            return
        series = self.by_point.get(point)
        if series is None:
            series = self.by_point[point] = MinuteSeries(self.minutes)
        series.add(ts, value)

    def series(self, point: str, now: float) -> list[float | None]:
        found = self.by_point.get(point)
        if found is None:
            return [None] * self.minutes
        return found.window(now)

    def add_event(self, event: wire.Event) -> None:
        self._events.append(event)

    def events(self, limit: int) -> list[wire.Event]:
        """The newest `limit` events, oldest first."""
        if limit <= 0:
            return []
        return list(self._events)[-limit:]
