"""Alarms: raised on activation with the formatted message, cleared on release, acknowledged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from campus.model import Campus
from campus.types import Reading
from rules.alarms import Alarm
from rules.engine import Engine
from rules.events import AlarmChanged, Transition
from rules.loader import load_rules
from tests.rules.test_engine import T0, feed

Write = Callable[[str, str], Path]
RULES = """\
rules:
  - id: co2-alarm
    rooms: kind == "classroom"
    when: co2 > 1500
    for: 20m
    until: co2 < 1200
    alarm:
      severity: critical
      message: "CO2 {co2:.0f} ppm for 20 minutes in {room.name} ({building.name})"
"""


def start(campus: Campus, write: Write) -> tuple[Engine, list[object]]:
    events: list[object] = []
    ruleset = load_rules([write("r.yaml", RULES)], campus)
    assert ruleset.ok, ruleset.problems
    engine = Engine(campus, ruleset, T0, settle=0.0, listener=events.append)
    engine.advance(T0)
    return engine, events


def alarm_events(events: list[object]) -> list[Alarm]:
    return [e.alarm for e in events if isinstance(e, AlarmChanged)]


def test_raise_with_formatted_message_then_clear(campus: Campus, write: Write) -> None:
    engine, events = start(campus, write)
    feed(engine, T0 + 60, co2=1600.0)
    feed(engine, T0 + 600, co2=1650.0)  # sensors report within stale_after (10 min)
    feed(engine, T0 + 1150, co2=1712.4)
    assert engine.alarms() == []
    engine.advance(T0 + 60 + 1200)
    (raised,) = alarm_events(events)
    assert raised == Alarm(
        "co2-alarm@b1.r101",
        "co2-alarm",
        "b1.r101",
        "critical",
        "CO2 1712 ppm for 20 minutes in R101 (Main)",
        T0 + 1260,
        T0 + 1260,
        True,
    )
    assert engine.alarms() == [raised]
    feed(engine, T0 + 1500, co2=1400.0)  # below `when`, above `until`: still raised
    (listed,) = engine.alarms()
    assert (listed.active, listed.last_seen) == (True, T0 + 1500)
    feed(engine, T0 + 1600, co2=1100.0)
    cleared = alarm_events(events)[-1]
    assert (cleared.active, cleared.last_seen, cleared.first_seen) == (False, T0 + 1600, T0 + 1260)
    assert engine.alarms() == [cleared]  # kept until someone acknowledges it


def test_acknowledge_removes_a_cleared_alarm_and_keeps_an_active_one(
    campus: Campus, write: Write
) -> None:
    engine, events = start(campus, write)
    for t in (10, 600, 1200):
        for room in ("b1.r101", "b1.r102"):
            engine.on_reading(Reading(f"{room}.co2", 1600.0 + t, T0 + t))
    engine.advance(T0 + 1210)
    assert [a.id for a in engine.alarms()] == ["co2-alarm@b1.r101", "co2-alarm@b1.r102"]
    acked = engine.acknowledge_alarm("co2-alarm@b1.r101", "alice", T0 + 1300)
    assert (acked.acknowledged_by, acked.acknowledged_at, acked.active) == (
        "alice",
        T0 + 1300,
        True,
    )
    feed(engine, T0 + 1400, co2=1000.0)  # clears the acknowledged one: it leaves the list
    assert [a.id for a in engine.alarms()] == ["co2-alarm@b1.r102"]
    assert alarm_events(events)[-1].acknowledged_by == "alice"


def test_transitions_are_reported_with_causes(campus: Campus, write: Write) -> None:
    engine, events = start(campus, write)
    feed(engine, T0 + 60, co2=1600.0)
    feed(engine, T0 + 120, co2=1450.0)
    transitions = [e for e in events if isinstance(e, Transition) and e.room == "b1.r101"]
    assert transitions == [
        Transition("co2-alarm", "b1.r101", "inactive", "pending", T0 + 60, "b1.r101.co2=1600 ppm"),
        Transition(
            "co2-alarm",
            "b1.r101",
            "pending",
            "inactive",
            T0 + 120,
            "hold broken by b1.r101.co2=1450 ppm",
        ),
    ]
