"""One heap of timers keyed by time, with lazy cancellation.

Hold timers are armed and broken all the time (every reading that breaks a `for:` hold cancels
one), so cancelling only marks the timer; the heap drops it when it reaches the top. Timers due
at the same time fire in the order they were armed, which keeps runs reproducible.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable


class Timer:
    """A scheduled call of `action(at)`."""

    __slots__ = ("action", "at", "cancelled")

    def __init__(self, at: float, action: Callable[[float], None]) -> None:
        self.at = at
        self.action = action
        self.cancelled = False


class TimerHeap:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()

    def schedule(self, at: float, action: Callable[[float], None]) -> Timer:
        timer = Timer(at, action)
        heapq.heappush(self._heap, (at, next(self._seq), timer))
        return timer

    def next_at(self) -> float | None:
        """When the earliest live timer is due."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def due(self, now: float) -> bool:
        """Whether some timer (maybe a cancelled one) is due by `now`: the cheap first check
        of every reading."""
        heap = self._heap
        return bool(heap) and heap[0][0] <= now

    def pop_due(self, now: float) -> Timer | None:
        """The earliest live timer due at or before `now`, removed from the heap."""
        at = self.next_at()
        if at is None or at > now:
            return None
        return heapq.heappop(self._heap)[2]

    def __len__(self) -> int:
        return len(self._heap)


def cancel(timer: Timer | None) -> None:
    if timer is not None:
        timer.cancelled = True
