"""Weekly time windows for `during("Mon-Fri 07:00-18:00, Sat 09:00-12:00")`.

Windows are local wall-clock times of the site's time zone. Both "is it inside?" and "when is
the next boundary?" are answered from the same list of concrete occurrences (POSIX start, end)
computed through zoneinfo, so the two can never disagree, and a window still opens at 07:00
local time on the day after a DST change. Wall times that do not exist (the spring-forward
gap) resolve with fold=0, i.e. to the equivalent time after the jump (02:30 becomes 03:30);
repeated wall times (autumn) mean their first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from campus.model import Period

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ITEM = re.compile(
    r"\s*(?:(?P<d1>[A-Za-z]{3})(?:\s*-\s*(?P<d2>[A-Za-z]{3}))?\s+)?"
    r"(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2})\s*$"
)
EXAMPLE = 'during("Mon-Fri 07:00-18:00, Sat 09:00-12:00")'


class WindowError(ValueError):
    """A window text that does not parse; `offset` is where in the text the bad part starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Window:
    """One `DAYS HH:MM-HH:MM` item. An end at or before the start runs past midnight."""

    days: frozenset[int]
    start: int
    """Minutes after local midnight."""
    end: int


class TimeWindows:
    """A parsed `during()` argument, bound to the site's time zone.

    The last answer is cached as a span [from, next boundary) in which nothing changes, so the
    thousands of evaluations between two boundaries cost a comparison each.
    """

    __slots__ = ("_span", "text", "tz", "windows")

    def __init__(self, text: str, windows: tuple[Window, ...], tz: ZoneInfo) -> None:
        self.text = text
        self.windows = windows
        self.tz = tz
        self._span = (1.0, 0.0, False)

    def contains(self, t: float) -> bool:
        start, end, inside = self._span
        if start <= t < end:
            return inside
        inside = any(a <= t < b for a, b in self._around(t))
        self._span = (t, self._next_boundary(t), inside)
        return inside

    def next_boundary(self, t: float) -> float:
        """The first moment after `t` when `contains` may change (a window opens or closes)."""
        start, end, _ = self._span
        if start <= t < end:
            return end
        self.contains(t)
        return self._span[1]

    def _next_boundary(self, t: float) -> float:
        day = datetime.fromtimestamp(t, self.tz).date()
        best = float("inf")
        for offset in range(-1, 9):
            for start, end in self._occurrences(day + timedelta(days=offset)):
                for edge in (start, end):
                    if t < edge < best:
                        best = edge
            if best < float("inf") and offset >= 1:
                break
        return best

    def _around(self, t: float) -> list[tuple[float, float]]:
        day = datetime.fromtimestamp(t, self.tz).date()
        return self._occurrences(day - timedelta(days=1)) + self._occurrences(day)

    def _occurrences(self, day: date) -> list[tuple[float, float]]:
        found = []
        for window in self.windows:
            if day.weekday() not in window.days:
                continue
            end_day = day if window.end > window.start else day + timedelta(days=1)
            found.append((self._at(day, window.start), self._at(end_day, window.end)))
        return found

    def _at(self, day: date, minutes: int) -> float:
        extra, minutes = divmod(minutes, 1440)
        moment = datetime.combine(day + timedelta(days=extra), time(minutes // 60, minutes % 60))
        return moment.replace(tzinfo=self.tz).timestamp()


def parse_windows(text: str, tz: ZoneInfo) -> TimeWindows:
    """Parse `during()`'s text; WindowError points at the offending item."""
    windows: list[Window] = []
    base = 0
    for item in text.split(","):
        windows.append(_parse_item(item, base))
        base += len(item) + 1
    return TimeWindows(text=text, windows=tuple(windows), tz=tz)


def _parse_item(item: str, base: int) -> Window:
    """One comma-separated item; `base` is its offset in the whole text (for error columns)."""
    shown = item.strip()
    at = base + len(item) - len(item.lstrip())
    match = _ITEM.match(item)
    if match is None:
        raise WindowError(
            f"bad time window {shown!r}: expected DAYS HH:MM-HH:MM, as in {EXAMPLE}", at
        )
    days = frozenset(range(7))
    if match.group("d1") is not None:
        first = _day(match.group("d1"), base + match.start("d1"))
        last = first
        if match.group("d2") is not None:
            last = _day(match.group("d2"), base + match.start("d2"))
        days = frozenset((first + i) % 7 for i in range((last - first) % 7 + 1))
    start = _minutes(match.group("h1"), match.group("m1"), base + match.start("h1"))
    end = _minutes(match.group("h2"), match.group("m2"), base + match.start("h2"))
    if start == end:
        raise WindowError(f"empty time window {shown!r}: start equals end", at)
    if start == 1440:
        raise WindowError(f"time window {shown!r} starts at 24:00; write 00:00", at)
    return Window(days=days, start=start, end=end)


def _day(name: str, offset: int) -> int:
    key = name.lower()
    if key not in DAYS:
        raise WindowError(f"unknown day {name!r}: use Mon Tue Wed Thu Fri Sat Sun", offset)
    return DAYS.index(key)


def _minutes(hours: str, minutes: str, offset: int) -> int:
    h, m = int(hours), int(minutes)
    if m >= 60 or h > 24 or (h == 24 and m != 0):
        raise WindowError(f"bad time {hours}:{minutes}: hours 00-24, minutes 00-59", offset)
    return h * 60 + m


def timetable_windows(
    timetable: Mapping[int, tuple[Period, ...]], tz: ZoneInfo, names: set[str] | None = None
) -> TimeWindows:
    """The campus timetable's periods (all, or those called `names`) as weekly windows:
    `in_session` and `in_period(...)`."""
    windows = tuple(
        Window(frozenset({day}), period.start, period.end)
        for day, periods in sorted(timetable.items())
        for period in periods
        if names is None or period.name in names
    )
    return TimeWindows("timetable", windows, tz)
