"""Write on change: which readings deserve a point in InfluxDB, and when to repeat one.

Sensors report every few seconds, mostly the same value; writing each would fill the database
with repeats. A reading is written when it differs from the last value *written* for its point
by at least the quantity's deadband (so slow drift still adds up to a write), or when its
quality changes.

Flat signals still need points, or a graph of the last hour shows nothing and "the latest value
in the last 15 minutes" finds none: many devices (lights, fans, some presence sensors) report
only when something changes. So the heartbeat repeats a point's latest value once `heartbeat`
seconds passed since it was last written, stamped with the time of the repeat, while that value
is still current: for a sensor, until its `stale_after` has passed since its last reading (a
sensor without `stale_after` is repeated only when a reading comes); for an actuator, until its
device goes offline. A dead sensor therefore shows as a gap, never as a flat line.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass

from campus.model import Campus
from campus.types import Quality, Reading, Value


@dataclass(slots=True)
class _Point:
    written: Value | None
    written_at: float
    quality: Quality
    latest: Value | None
    latest_at: float
    scheduled: bool = False
    """Whether the heap holds an entry for this point (at most one: memory stays per point)."""


class ChangeFilter:
    def __init__(
        self,
        heartbeat: float,
        deadband: Mapping[str, float],
        current_for: Mapping[str, float | None] | None = None,
    ) -> None:
        """`current_for`: point id -> seconds a reading stays current (the sensor's
        `stale_after`; None for actuators: until offline). Points not in it are repeated only
        when a reading comes."""
        self.heartbeat = heartbeat
        self.deadband = dict(deadband)
        self.current_for = dict(current_for or {})
        self._points: dict[str, _Point] = {}
        self._due: list[tuple[float, str]] = []
        """Heap of (time a heartbeat may be due, point id); a point written since its entry was
        pushed is pushed again for its new time when the entry comes up."""

    @classmethod
    def for_campus(
        cls, campus: Campus, heartbeat: float, deadband: Mapping[str, float]
    ) -> ChangeFilter:
        """Sensors stay current for their `stale_after`, actuators until their device is offline."""
        current_for: dict[str, float | None] = {
            p.id: p.stale_after for p in campus.points().values() if p.stale_after
        }
        current_for.update((a, None) for a in campus.actuators())
        return cls(heartbeat, deadband, current_for)

    def wants(self, reading: Reading, name: str) -> bool:
        """Whether to write `reading` (of the point or actuator called `name`); remembers it."""
        point = self._points.get(reading.point)
        if point is None:
            point = self._points[reading.point] = _Point(
                reading.value, reading.ts, reading.quality, reading.value, reading.ts
            )
            self._written(reading.point, point, reading.value, reading.ts)
            return True
        point.latest, point.latest_at = reading.value, reading.ts
        if self._differs(point, reading, name):
            point.quality = reading.quality
            self._written(reading.point, point, reading.value, reading.ts)
            return True
        return False

    def due(self, now: float) -> list[Reading]:
        """The heartbeats due at `now`: latest values still current, stamped `now`."""
        out: list[Reading] = []
        while self._due and self._due[0][0] <= now:
            _, point_id = heapq.heappop(self._due)
            point = self._points[point_id]
            point.scheduled = False
            if point.written_at + self.heartbeat > now:
                self._schedule(point_id, point)
                continue
            current_for = self.current_for[point_id]
            if point.quality is not Quality.GOOD or (
                current_for is not None and now - point.latest_at >= current_for
            ):
                continue
            out.append(Reading(point_id, point.latest, now))
            self._written(point_id, point, point.latest, now)
        return out

    def _written(self, point_id: str, point: _Point, value: Value | None, ts: float) -> None:
        point.written, point.written_at = value, ts
        if not point.scheduled and point_id in self.current_for:
            self._schedule(point_id, point)

    def _schedule(self, point_id: str, point: _Point) -> None:
        point.scheduled = True
        heapq.heappush(self._due, (point.written_at + self.heartbeat, point_id))

    def _differs(self, point: _Point, reading: Reading, name: str) -> bool:
        if reading.quality is not point.quality or reading.ts - point.written_at >= self.heartbeat:
            return True
        new, old = reading.value, point.written
        if new is None or old is None:
            return new is not old
        if isinstance(new, bool) or isinstance(old, bool):
            return new != old or type(new) is not type(old)
        delta = self.deadband.get(name, 0.0)
        return abs(new - old) >= delta if delta > 0 else new != old
