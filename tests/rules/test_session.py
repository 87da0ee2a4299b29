"""`in_session` and `in_period(...)`: the campus timetable in the site's time zone."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from campus.model import Campus, Period
from rules.engine import Engine
from rules.instance import State
from rules.loader import load_rules
from tests.rules.test_engine import at

Write = Callable[[str, str], Path]
LESSONS = (Period("lesson-1", 8 * 60 + 15, 9 * 60), Period("lesson-2", 9 * 60 + 10, 9 * 60 + 55))


def test_in_session_follows_the_timetable_and_wakes_at_its_edges(
    campus: Campus, write: Write
) -> None:
    timed = dataclasses.replace(campus, timetable={0: LESSONS})  # Mondays only
    path = write(
        "r.yaml",
        "rules:\n  - id: lesson-air\n    rooms: id == 'b1.r101'\n    when: in_session\n"
        "    set: {ventilation: 40}\n    priority: schedule\n"
        "  - id: second\n    rooms: id == 'b1.r101'\n    when: in_period(\"lesson-2\")\n"
        "    set: {lights: on}\n",
    )
    ruleset = load_rules([path], timed)
    assert ruleset.ok, ruleset.problems
    start = at("2026-11-23 08:00")  # a Monday
    engine = Engine(timed, ruleset, start, settle=0.0)
    engine.advance(start)
    assert engine.actuator_value("b1.r101.ventilation") == 20.0
    assert engine.next_deadline() == at("2026-11-23 08:15")
    engine.advance(at("2026-11-23 08:15"))
    assert engine.actuator_value("b1.r101.ventilation") == 40.0
    assert engine.actuator_value("b1.r101.lights") is False
    engine.advance(at("2026-11-23 09:00"))  # the break
    assert engine.instance("lesson-air", "b1.r101").state is State.INACTIVE
    engine.advance(at("2026-11-23 09:10"))
    assert engine.actuator_value("b1.r101.lights") is True
    engine.advance(at("2026-11-24 09:30"))  # Tuesday: no timetable
    assert engine.instance("lesson-air", "b1.r101").state is State.INACTIVE
    assert engine.next_deadline() == at("2026-11-30 08:15")
