"""When each room's retained state message goes out: the control plane's pacing.

A room that changed is published at most once per `interval` (wall seconds), so a flood of
readings costs the broker one message per room per interval. A change of every room at once (a
reconnect, a reload, a campus-wide flood) goes out in slices, one per tick, each in proportion
to the time since the previous tick, so that every room is out within `DRAIN` of the interval and
no tick holds up the readings queued behind it for long. Before each room a slice asks whether
readings wait and gives way if they do: a reading that arrives during a slice waits for one
room's message at most, not for the slice. The next tick publishes what it left on top of its own
slice. A room that has been ready for `LATE` of the interval no longer gives way, up to a tick's
own share: a flood of readings delays the rooms by that much, and cannot starve them. A tick that
comes late (a busy event loop) publishes for the time it missed, up to `CATCH_UP` ticks' worth: a
busy loop gets larger slices, not staler rooms. Pure logic on monotonic times the caller passes;
no MQTT.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

DRAIN = 0.8
"""The share of the interval in which automatic slices publish every room once."""
CATCH_UP = 10
"""A late tick publishes for at most this many ticks' time."""
LATE = 1 - DRAIN
"""The share of the interval after which a ready room no longer gives way to readings."""


class RoomPacing:
    """The rooms waiting to be published and those cooling down after their last message."""

    def __init__(
        self, rooms: Iterable[str], *, interval: float, period: float, per_tick: int = 0
    ) -> None:
        """`period`: the time between ticks when rooms wait; `per_tick`: rooms per tick at
        most, 0: automatic (rooms / (DRAIN × interval) a second, in proportion to the time
        since the last tick)."""
        self.rooms = list(rooms)
        self.interval = interval
        self.period = period
        self.per_tick = per_tick
        self.rate = len(self.rooms) / (DRAIN * interval)
        """Room messages a second that automatic slices allow."""
        self.changed: dict[str, None] = {}
        """Rooms that changed since the last tick. The control plane's hot path adds to it
        directly (a dict store per reading, not a call); rooms it does not know are ignored."""
        self._known = set(self.rooms)
        self._ready: OrderedDict[str, float] = OrderedDict()
        """Rooms to publish, the next slice taken from the front, with the time each became
        ready (-inf: urgent)."""
        self._late = LATE * interval
        self._waiting: set[str] = set()
        """Rooms that changed while cooling: ready once their interval is over."""
        self._cooling: deque[tuple[float, str]] = deque()
        """(when the interval ends, room), in publication order, so in time order."""
        self._cool_until: dict[str, float] = {}
        self._last_tick = 0.0
        self._backlog = False
        """Whether rooms were left ready at the last tick (the next one counts the time since)."""
        self._owed = 0
        """Rooms of the last slices left for this one (they gave way to readings)."""

    @property
    def busy(self) -> bool:
        """Whether a room waits (ready, changed or changed while cooling): tick often."""
        return bool(self._ready or self._waiting or self.changed)

    @property
    def ready(self) -> int:
        """Rooms due now, waiting for a slice."""
        return len(self._ready)

    def cool_until(self, room_id: str) -> float | None:
        """When `room_id` may be published again (None: now)."""
        return self._cool_until.get(room_id)

    def restart(self, now: float) -> None:
        """Every room due (after a connect: the broker may have lost everything), in campus
        order, spread over the next ticks' slices."""
        self.changed = {}
        self._waiting.clear()
        self._cooling.clear()
        self._cool_until.clear()
        self._ready = OrderedDict.fromkeys(self.rooms, now)
        self._last_tick = now
        self._backlog = True

    def urgent(self, room_id: str) -> None:
        """Publish `room_id` at the next tick, ahead of every other, cooling or not (a staff
        action is answered at once)."""
        if room_id not in self._known:
            return
        if self._cool_until.pop(room_id, None) is not None:
            self._waiting.discard(room_id)
        self._ready[room_id] = -math.inf
        self._ready.move_to_end(room_id, last=False)

    def tick(
        self, now: float, publish: Callable[[str], None], readings_waiting: Callable[[], bool]
    ) -> int:
        """Queue the rooms that changed and whose interval is over, and `publish` the next slice;
        return how many rooms were published. Each step costs in proportion to what changed,
        not to the campus."""
        ready, waiting, cool_until = self._ready, self._waiting, self._cool_until
        owed = self._owed
        if self.changed:
            changed, self.changed = self.changed, {}
            for room_id in changed:
                if room_id in cool_until:
                    waiting.add(room_id)
                elif room_id in self._known:
                    ready.setdefault(room_id, now)  # ready since it first was
        cooling = self._cooling
        while cooling and cooling[0][0] <= now:
            until, room_id = cooling.popleft()
            if cool_until.get(room_id) != until:
                continue  # published again since (urgent)
            del cool_until[room_id]
            if room_id in waiting:
                waiting.remove(room_id)
                ready.setdefault(room_id, now)
        self._owed = 0
        published = 0
        if ready:
            tick = self.period
            # the time since the last tick, if rooms were already waiting then (no credit for
            # the time the plane idled)
            elapsed = min(now - self._last_tick, CATCH_UP * tick) if self._backlog else tick
            per_tick = self.per_tick or math.ceil(self.rate * tick)
            own = max(1, self.per_tick or math.ceil(self.rate * elapsed))
            # with what the last slices left when they gave way, within a late tick's bound
            count = min(own + owed, CATCH_UP * per_tick)
            published, self._owed = self._slice(now, count, own, publish, readings_waiting)
        self._backlog = bool(ready)
        self._last_tick = now
        return published

    def publish_all(self, now: float, publish: Callable[[str], None]) -> int:
        """Every room at once (on stop: the final states)."""
        self.restart(now)
        count = len(self._ready)
        return self._slice(now, count, count, publish, lambda: False)[0]

    def _slice(
        self,
        now: float,
        count: int,
        forced: int,
        publish: Callable[[str], None],
        readings_waiting: Callable[[], bool],
    ) -> tuple[int, int]:
        """Publish up to `count` rooms from the front of the ready queue, asking before each
        whether readings wait and stopping if they do, unless the room is late and fewer than
        `forced` were published. (published, how many of `count` are left)."""
        ready = self._ready
        until = now + self.interval
        late = now - self._late
        count = min(count, len(ready))
        published = 0
        while published < count:
            room_id, since = next(iter(ready.items()))
            if not (published < forced and since <= late) and readings_waiting():
                break
            del ready[room_id]
            publish(room_id)
            published += 1
            self._cool_until[room_id] = until
            self._cooling.append((until, room_id))
        return published, min(count - published, len(ready))
