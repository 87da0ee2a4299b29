"""Who is in each room, and what its PIR sensor makes of them.

People follow the campus timetable (Campus.timetable: weekday → periods): a classroom is used in
a period with probability 0.8, a lab with 0.35; a class is 60-95 % of capacity less absences, and
sometimes ends early; a teacher is with every class. Library corners hold a few readers that come
and go, corridors fill in short bursts at the breaks. Nobody is in before 07:00, after 17:00 or at
weekends. Each room has its own `random.Random` and each day its own seed, so a room's day is the
same whatever time the simulation started.

The PIR reports detection, not truth (domain.md §3 PIR): each minute a person is seen with a
probability that depends on what they do, so seated pupils are sometimes missed and a quiet lesson
can read as empty; movement in or out is always seen. Like Zigbee2MQTT's occupancy_timeout, the
sensor says occupied until 90 s after the last motion. The detection probabilities are provisional.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from campus.model import Period, Room
from simulators.physics import NOBODY, Activity, Occupants

OPEN_FROM = 7 * 3600
OPEN_UNTIL = 17 * 3600
"""Nobody is in a room outside these local times (seconds after midnight)."""

USE_PROBABILITY = {"classroom": 0.8, "lab": 0.35}
DEFAULT_USE_PROBABILITY = 0.4
ABSENCE = 0.07
EARLY_END = 0.15
QUIET_LESSON = 0.2

DETECTION_PER_MINUTE = {
    Activity.QUIET: 0.03,
    Activity.READING: 0.06,
    Activity.SEATED: 0.12,
    Activity.ACTIVE: 0.5,
    Activity.WALKING: 0.95,
}
"""Provisional probability that one person triggers the PIR within a minute."""
PIR_TIMEOUT = 90.0

DEFAULT_TIMETABLE: dict[int, tuple[Period, ...]] = {
    day: (
        Period("1", 8 * 60 + 15, 9 * 60),
        Period("2", 9 * 60 + 10, 9 * 60 + 55),
        Period("3", 10 * 60 + 15, 11 * 60),
        Period("4", 11 * 60 + 10, 11 * 60 + 55),
        Period("5", 12 * 60 + 40, 13 * 60 + 25),
        Period("6", 13 * 60 + 35, 14 * 60 + 20),
        Period("7", 14 * 60 + 30, 15 * 60 + 15),
    )
    for day in range(5)
}
"""Used when the campus has no timetable: a common Nordic school day, Monday to Friday."""


@dataclass(frozen=True, slots=True)
class Habits:
    """How a school uses its rooms: the probabilities the timetable is filled with.

    The defaults are this module's constants; a campus scenario (`simulators.scenario`) may set
    its own, e.g. a flu week with more absences.
    """

    use: tuple[tuple[str, float], ...] = tuple(USE_PROBABILITY.items())
    """(room kind, probability that a room of that kind is used in a period)."""
    default_use: float = DEFAULT_USE_PROBABILITY
    absence: float = ABSENCE
    early_end: float = EARLY_END
    quiet_lesson: float = QUIET_LESSON

    def use_probability(self, kind: str) -> float:
        return dict(self.use).get(kind, self.default_use)


DEFAULT_HABITS = Habits()


@dataclass(frozen=True, slots=True)
class Stay:
    """People present from `start` to `end` (seconds after local midnight)."""

    start: float
    end: float
    people: Occupants


class RoomSchedule:
    """The true occupants of one room over time, generated a local day at a time."""

    def __init__(
        self,
        room: Room,
        timetable: dict[int, tuple[Period, ...]],
        timezone: str,
        seed: int,
        habits: Habits = DEFAULT_HABITS,
    ) -> None:
        self.room = room
        self.habits = habits
        self.timetable = timetable or DEFAULT_TIMETABLE
        self.zone = ZoneInfo(timezone)
        self.seed = seed
        self._day_start = math.inf
        self._day_end = -math.inf
        self._starts: list[float] = []
        self._stays: list[Stay] = []

    def at(self, t: float) -> Occupants:
        """Who is in the room at POSIX time `t`."""
        if not self._day_start <= t < self._day_end:
            self._load_day(datetime.fromtimestamp(t, self.zone).date())
        i = bisect.bisect_right(self._starts, t) - 1
        if i >= 0 and t < self._stays[i].end:
            return self._stays[i].people
        return NOBODY

    def day(self, day: date) -> list[Stay]:
        """The stays of one local day, in POSIX seconds, sorted and never overlapping."""
        start = datetime.combine(day, time(), self.zone).timestamp()
        rng = random.Random(f"{self.seed}:{self.room.id}:{day.isoformat()}")
        stays = [] if day.weekday() >= 5 else self._plan(rng, day.weekday())
        return [
            Stay(start + max(s.start, OPEN_FROM), start + min(s.end, OPEN_UNTIL), s.people)
            for s in stays
            if min(s.end, OPEN_UNTIL) > max(s.start, OPEN_FROM) and s.people.total > 0
        ]

    def _load_day(self, day: date) -> None:
        self._day_start = datetime.combine(day, time(), self.zone).timestamp()
        self._day_end = datetime.combine(day + timedelta(days=1), time(), self.zone).timestamp()
        self._stays = self.day(day)
        self._starts = [s.start for s in self._stays]

    def _plan(self, rng: random.Random, weekday: int) -> list[Stay]:
        periods = self.timetable.get(weekday, ())
        kind = self.room.kind
        if kind == "outdoor" or not periods:
            return []
        if kind == "library":
            return _library(rng, self.room.capacity, periods)
        if kind == "corridor":
            return _corridor(rng, self.room.capacity, periods)
        if kind in ("classroom", "lab"):
            return _lessons(rng, self.room.capacity, periods, kind, self.habits)
        return _meetings(rng, self.room.capacity, periods, self.habits)


def _lessons(
    rng: random.Random, capacity: int, periods: tuple[Period, ...], kind: str, habits: Habits
) -> list[Stay]:
    """Classes with a teacher: 60-95 % of capacity enrolled, ~7 % absent, some end early."""
    stays = []
    use = habits.use_probability(kind)
    for period in periods:
        if rng.random() >= use:
            continue
        enrolled = round(capacity * rng.uniform(0.6, 0.95))
        present = sum(rng.random() >= habits.absence for _ in range(enrolled))
        start = period.start * 60 + rng.uniform(0, 120)
        early = rng.uniform(300, 900) if rng.random() < habits.early_end else rng.uniform(0, 60)
        end = max(start + 60, period.end * 60 - early)
        if kind == "lab":
            pupil, adult = Activity.ACTIVE, Activity.ACTIVE
        elif rng.random() < habits.quiet_lesson:
            pupil, adult = Activity.QUIET, Activity.QUIET
        else:
            pupil, adult = Activity.SEATED, Activity.ACTIVE
        stays.append(Stay(start, end, Occupants(present, 1, pupil, adult)))
    return stays


def _library(rng: random.Random, capacity: int, periods: tuple[Period, ...]) -> list[Stay]:
    """Readers in 10-minute slots from the first period to the last: about 10 % of the places
    during lessons, 30 % in the breaks between them."""
    first, last = periods[0].start * 60, periods[-1].end * 60
    in_lesson = [(p.start * 60, p.end * 60) for p in periods]
    stays = []
    for slot in range(int(first), int(last), 600):
        busy = any(a <= slot < b for a, b in in_lesson)
        mean = capacity * (0.1 if busy else 0.3)
        readers = max(0, min(capacity, round(rng.gauss(mean, mean / 2 + 0.5))))
        stays.append(Stay(slot, slot + 600, Occupants(readers, 0, Activity.READING)))
    return stays


def _corridor(rng: random.Random, capacity: int, periods: tuple[Period, ...]) -> list[Stay]:
    """A burst of 30-100 % of capacity for 2-5 minutes before the first period and after each
    one, and a passer-by now and then (one every ~8 minutes) in between."""
    size = capacity if capacity > 0 else 20
    burst_times = [periods[0].start * 60 - 300] + [p.end * 60 for p in periods]
    stays = []
    for at in burst_times:
        people = Occupants(round(size * rng.uniform(0.3, 1.0)), 0, Activity.WALKING)
        stays.append(Stay(at, at + rng.uniform(120, 300), people))
    t = float(burst_times[0])
    while True:
        t += rng.expovariate(1 / 480)
        if t >= burst_times[-1]:
            break
        stay = Stay(t, t + rng.uniform(20, 40), Occupants(rng.randint(1, 2), 0, Activity.WALKING))
        if all(stay.end <= b.start or stay.start >= b.end for b in stays):
            stays.append(stay)
    return sorted(stays, key=lambda s: s.start)


def _meetings(
    rng: random.Random, capacity: int, periods: tuple[Period, ...], habits: Habits
) -> list[Stay]:
    """Any other room: adults meet in it in some periods."""
    stays = []
    for period in periods:
        if rng.random() >= habits.default_use:
            continue
        adults = max(1, round(capacity * rng.uniform(0.2, 0.8)))
        people = Occupants(0, adults, Activity.SEATED, Activity.SEATED)
        stays.append(Stay(period.start * 60, period.end * 60, people))
    return stays


def detection_probability(people: Occupants, dt: float) -> float:
    """Chance that at least one of `people` moves enough for the PIR within `dt` seconds."""
    miss = math.pow(1.0 - DETECTION_PER_MINUTE[people.pupil_activity], people.pupils)
    miss *= math.pow(1.0 - DETECTION_PER_MINUTE[people.adult_activity], people.adults)
    return 1.0 - math.pow(miss, dt / 60.0)


class Pir:
    """A passive-infrared occupancy sensor with a Zigbee2MQTT-style occupancy timeout."""

    def __init__(self, rng: random.Random, timeout: float = PIR_TIMEOUT) -> None:
        self.rng = rng
        self.timeout = timeout
        self.last_motion = -math.inf
        self._last_total = 0

    def advance(self, t: float, dt: float, people: Occupants) -> bool:
        """Sense the `dt` seconds ending at `t`; return whether it now reports occupancy."""
        total = people.total
        if total != self._last_total or (
            total and self.rng.random() < detection_probability(people, dt)
        ):
            self.last_motion = t
        self._last_total = total
        return self.occupied(t)

    def occupied(self, t: float) -> bool:
        return t - self.last_motion < self.timeout
