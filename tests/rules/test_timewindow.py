"""during() windows: membership and next boundary, in local time, across DST changes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from rules.timewindow import WindowError, parse_windows

OSLO = ZoneInfo("Europe/Oslo")


def at(text: str) -> float:
    """Local Oslo time ``2026-03-28 18:00`` -> POSIX seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=OSLO).timestamp()


def test_weekdays_and_saturday() -> None:
    windows = parse_windows("Mon-Fri 07:00-18:00, Sat 09:00-12:00", OSLO)
    assert windows.contains(at("2026-11-23 07:00"))  # Monday, opening instant
    assert not windows.contains(at("2026-11-23 06:59"))
    assert not windows.contains(at("2026-11-23 18:00"))  # the end is exclusive
    assert windows.contains(at("2026-11-28 10:00"))  # Saturday
    assert not windows.contains(at("2026-11-28 12:30"))
    assert not windows.contains(at("2026-11-29 10:00"))  # Sunday
    assert windows.next_boundary(at("2026-11-23 06:00")) == at("2026-11-23 07:00")
    assert windows.next_boundary(at("2026-11-23 07:00")) == at("2026-11-23 18:00")
    assert windows.next_boundary(at("2026-11-27 18:00")) == at("2026-11-28 09:00")
    assert windows.next_boundary(at("2026-11-28 12:00")) == at("2026-11-30 07:00")


def test_spring_forward_opens_at_local_time() -> None:
    """Oslo jumps 02:00 -> 03:00 on Sunday 29 March 2026: the night is an hour shorter."""
    windows = parse_windows("07:00-18:00", OSLO)
    evening = at("2026-03-28 18:00")
    morning = windows.next_boundary(evening)
    assert morning == at("2026-03-29 07:00")
    assert morning - evening == 12 * 3600
    assert datetime.fromtimestamp(morning, OSLO).hour == 7


def test_fall_back_opens_at_local_time() -> None:
    """Oslo goes 03:00 -> 02:00 on Sunday 25 October 2026: the night is an hour longer."""
    windows = parse_windows("07:00-18:00", OSLO)
    evening = at("2026-10-24 18:00")
    assert windows.next_boundary(evening) - evening == 14 * 3600


def test_window_in_the_spring_gap_is_consistent() -> None:
    windows = parse_windows("Sun 02:30-04:00", OSLO)
    start = windows.next_boundary(at("2026-03-29 00:00"))
    assert windows.contains(start)
    assert not windows.contains(start - 1)
    assert datetime.fromtimestamp(start, OSLO).strftime("%H:%M") == "03:30"


def test_past_midnight_and_wrapping_days() -> None:
    night = parse_windows("Fri 22:00-06:00", OSLO)
    assert night.contains(at("2026-11-28 05:00"))  # Saturday morning belongs to Friday's window
    assert not night.contains(at("2026-11-28 06:00"))
    assert not night.contains(at("2026-11-27 05:00"))  # Friday morning: Thursday has no window
    weekend = parse_windows("Sat-Mon 10:00-11:00", OSLO)
    assert weekend.contains(at("2026-11-30 10:30"))  # Monday
    assert not weekend.contains(at("2026-12-01 10:30"))  # Tuesday
    whole = parse_windows("Mon 00:00-24:00", OSLO)
    assert whole.contains(at("2026-11-30 23:59"))
    assert not whole.contains(at("2026-12-01 00:00"))


def test_cache_answers_like_a_fresh_parse() -> None:
    cached = parse_windows("Mon-Fri 07:00-18:00", OSLO)
    t = at("2026-11-23 05:00")
    for _ in range(200):
        fresh = parse_windows("Mon-Fri 07:00-18:00", OSLO)
        assert cached.contains(t) == fresh.contains(t)
        assert cached.next_boundary(t) == fresh.next_boundary(t)
        t += 1800


@pytest.mark.parametrize(
    ("text", "offset", "fragment"),
    [
        ("Mon-Fri 7-18", 0, "expected DAYS HH:MM-HH:MM"),
        ("Mon-Fri 07:00-18:00, Sun 09:00", 21, "bad time window"),
        ("Mon-Fro 07:00-18:00", 4, "unknown day 'Fro'"),
        ("07:00-07:00", 0, "start equals end"),
        ("07:60-08:00", 0, "bad time 07:60"),
        ("24:00-08:00", 0, "starts at 24:00"),
    ],
)
def test_errors_point_into_the_text(text: str, offset: int, fragment: str) -> None:
    with pytest.raises(WindowError) as info:
        parse_windows(text, OSLO)
    assert fragment in str(info.value)
    assert info.value.offset == offset
