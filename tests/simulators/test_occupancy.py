"""Occupants from the timetable, and what a PIR makes of them."""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from campus.model import Period
from simulators.occupancy import (
    OPEN_FROM,
    OPEN_UNTIL,
    Pir,
    RoomSchedule,
    Stay,
)
from simulators.physics import Activity, Occupants
from tests.simulators.factory import make_room

ZONE = "Europe/Oslo"
MONDAY = date(2026, 11, 23)
TIMETABLE = {
    d: (Period("1", 8 * 60, 8 * 60 + 45), Period("2", 9 * 60, 9 * 60 + 45)) for d in range(5)
}


def schedule(kind: str = "classroom", seed: int = 1, capacity: int = 30) -> RoomSchedule:
    return RoomSchedule(make_room("r101", kind=kind, capacity=capacity), {}, ZONE, seed)


def local_seconds(t: float) -> float:
    moment = datetime.fromtimestamp(t, ZoneInfo(ZONE))
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def weekdays(n: int) -> list[date]:
    days = [MONDAY + timedelta(days=i) for i in range(n * 7 // 5 + 7)]
    return [d for d in days if d.weekday() < 5][:n]


def test_same_seed_same_day_other_seed_other_day() -> None:
    assert schedule(seed=1).day(MONDAY) == schedule(seed=1).day(MONDAY)
    assert schedule(seed=1).day(MONDAY) != schedule(seed=2).day(MONDAY)


def test_a_day_does_not_depend_on_when_the_simulation_started() -> None:
    late, early = schedule(), schedule()
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo(ZONE)).timestamp()
    early.at(noon - 86400)
    times = [noon + 60 * i for i in range(-240, 240)]
    assert [late.at(t) for t in times] == [early.at(t) for t in times]


def test_nobody_at_weekends_or_outside_opening_hours() -> None:
    for kind in ("classroom", "lab", "library", "corridor", "office"):
        s = schedule(kind)
        assert s.day(date(2026, 11, 28)) == []
        assert s.day(date(2026, 11, 29)) == []
        for day in weekdays(10):
            for stay in s.day(day):
                assert (
                    OPEN_FROM <= local_seconds(stay.start) <= local_seconds(stay.end) <= OPEN_UNTIL
                )


def test_classes_follow_the_timetable() -> None:
    s = RoomSchedule(make_room("r101", capacity=30), TIMETABLE, ZONE, seed=5)
    used = 0
    for day in weekdays(40):
        for stay in s.day(day):
            used += 1
            start, end = local_seconds(stay.start), local_seconds(stay.end)
            assert any(p.start * 60 <= start and end <= p.end * 60 for p in TIMETABLE[0])
            assert stay.people.adults == 1
            assert 10 <= stay.people.pupils <= 29
    assert 0.7 < used / 80 < 0.9


def test_labs_are_used_less_than_classrooms() -> None:
    def lessons(kind: str) -> int:
        return sum(len(schedule(kind).day(d)) for d in weekdays(20))

    assert lessons("lab") < lessons("classroom") * 0.6


def test_corridors_fill_in_bursts_at_the_breaks() -> None:
    s = RoomSchedule(make_room("c1", kind="corridor", capacity=40), TIMETABLE, ZONE, seed=3)
    stays = s.day(MONDAY)
    big = [st for st in stays if st.people.pupils >= 10]
    assert [round(local_seconds(st.start) / 60) for st in big] == [
        7 * 60 + 55,
        8 * 60 + 45,
        9 * 60 + 45,
    ]
    assert all(st.end - st.start <= 300 for st in stays)
    assert all(a.end <= b.start for a, b in itertools.pairwise(stays))


def test_library_numbers_vary_through_the_day() -> None:
    counts = {st.people.pupils for st in schedule("library", capacity=20).day(MONDAY)}
    assert len(counts) > 3
    assert max(counts) <= 20


def detections(people: Occupants, minutes: int, seed: int = 0) -> list[bool]:
    pir = Pir(random.Random(seed))
    t = 0.0
    pir.advance(t, 10.0, people)
    out = []
    for _ in range(minutes * 6):
        t += 10.0
        out.append(pir.advance(t, 10.0, people))
    return out


def test_pir_misses_a_quiet_class_sometimes() -> None:
    quiet = detections(Occupants(20, 1, Activity.QUIET, Activity.QUIET), 45)
    assert 0.2 < quiet.count(False) / len(quiet) < 0.8


def test_pir_rarely_misses_a_lesson_with_a_teacher() -> None:
    lesson = detections(Occupants(25, 1, Activity.SEATED, Activity.ACTIVE), 45)
    assert lesson.count(False) / len(lesson) < 0.02


def test_pir_sees_walking_people_and_never_an_empty_room() -> None:
    walking = detections(Occupants(1, 0, Activity.WALKING), 60)
    assert walking.count(False) / len(walking) < 0.05
    assert not any(detections(Occupants(), 30)[9:])


def test_pir_clears_90_seconds_after_the_last_motion() -> None:
    pir = Pir(random.Random(1))
    assert pir.advance(0.0, 10.0, Occupants(3, 0, Activity.WALKING))
    assert pir.advance(10.0, 10.0, Occupants())
    assert pir.advance(90.0, 10.0, Occupants())
    assert not pir.advance(100.0, 10.0, Occupants())


def test_stays_are_plain_data() -> None:
    stay = Stay(0.0, 60.0, Occupants(2, 0, Activity.READING))
    assert stay.people.total == 2
