"""during() in the engine: re-evaluation exactly at window boundaries, across DST changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from campus.model import Campus
from campus.types import Command, Value
from rules.engine import Engine
from rules.loader import load_rules

Write = Callable[[str, str], Path]
OSLO = ZoneInfo("Europe/Oslo")
SETBACK = """\
rules:
  - id: night-setback
    rooms: kind == "classroom"
    when: not during("WINDOWS")
    set:
      heating_setpoint: 16
    priority: schedule
"""
ROOMS = ["b1.r101.heating_setpoint", "b1.r102.heating_setpoint", "b1.r103.heating_setpoint"]


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=OSLO).timestamp()


def engine(campus: Campus, write: Write, windows: str, now: float) -> Engine:
    result = load_rules([write("r.yaml", SETBACK.replace("WINDOWS", windows))], campus)
    assert result.ok, [str(p) for p in result.problems]
    return Engine(campus, result, now=now, settle=5.0)


def setpoints(commands: list[Command]) -> list[tuple[str, Value, float, int]]:
    return [(c.actuator, c.value, c.ts, c.priority) for c in commands if c.actuator in ROOMS]


def test_boundaries_across_spring_forward(campus: Campus, write: Write) -> None:
    start = at("2026-03-28 17:00")
    eng = engine(campus, write, "07:00-18:00", start)
    assert setpoints(eng.advance(start + 5)) == [(a, 21.0, start + 5, 17) for a in ROOMS]
    evening = at("2026-03-28 18:00")
    assert eng.next_deadline() == evening
    assert eng.advance(evening - 0.001) == []
    commands = eng.advance(evening)
    assert setpoints(commands) == [(a, 16.0, evening, 14) for a in ROOMS]
    assert commands[0].reason.startswith(
        "rule night-setback (schedule, slot 14) active since 18:00"
    )
    morning = at("2026-03-29 07:00")
    assert morning - evening == 12 * 3600  # the night lost an hour
    assert eng.next_deadline() == morning
    commands = eng.advance(at("2026-03-29 12:00"))
    assert setpoints(commands) == [(a, 21.0, morning, 17) for a in ROOMS]
    assert datetime.fromtimestamp(commands[0].ts, OSLO).strftime("%H:%M") == "07:00"


def test_boundaries_across_fall_back(campus: Campus, write: Write) -> None:
    start = at("2026-10-24 19:00")
    eng = engine(campus, write, "Mon-Sun 07:00-18:00", start)
    assert setpoints(eng.advance(start + 5)) == [(a, 16.0, start + 5, 14) for a in ROOMS]
    morning = at("2026-10-25 07:00")
    assert morning - at("2026-10-24 18:00") == 14 * 3600  # the night gained an hour
    assert eng.next_deadline() == morning
    assert setpoints(eng.advance(morning)) == [(a, 21.0, morning, 17) for a in ROOMS]


def test_weekend_windows_skip_to_monday(campus: Campus, write: Write) -> None:
    friday = at("2026-11-27 17:00")
    eng = engine(campus, write, "Mon-Fri 07:00-18:00, Sat 09:00-12:00", friday)
    eng.advance(friday + 5)
    boundaries = []
    for _ in range(4):
        deadline = eng.next_deadline()
        assert deadline is not None
        boundaries.append(datetime.fromtimestamp(deadline, OSLO).strftime("%a %H:%M"))
        eng.advance(deadline)
    assert boundaries == ["Fri 18:00", "Sat 09:00", "Sat 12:00", "Mon 07:00"]
