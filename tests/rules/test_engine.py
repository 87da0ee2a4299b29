"""Engine semantics on virtual time: activation, holds, hysteresis, unknown values, commands."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from campus.model import Campus
from campus.types import Command, Quality, Reading, Value
from rules.engine import Engine
from rules.instance import Instance, State
from rules.loader import load_rules
from rules.values import UNKNOWN

Write = Callable[[str, str], Path]
OSLO = ZoneInfo("Europe/Oslo")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=OSLO).timestamp()


T0 = at("2026-11-23 08:00")  # a Monday
STUFFY = """\
rules:
  - id: ventilate-stuffy-classrooms
    rooms: kind == "classroom"
    when: occupancy and co2 > 1000
    for: 2m
    until: co2 < 800 or not occupancy
    until_for: UNTIL_FOR
    on_unknown: ON_UNKNOWN
    set:
      ventilation: 100
    priority: comfort
"""


def start(campus: Campus, write: Write, text: str, now: float = T0, settle: float = 5.0) -> Engine:
    """An engine past its start-up settle (the start-up commands are checked elsewhere)."""
    result = load_rules([write("rules.yaml", text)], campus)
    assert result.ok, [str(p) for p in result.problems]
    engine = Engine(campus, result, now=now, settle=settle)
    engine.advance(now + settle)
    return engine


def stuffy(campus: Campus, write: Write, until_for: str = "0s", on_unknown: str = "hold") -> Engine:
    text = STUFFY.replace("UNTIL_FOR", until_for).replace("ON_UNKNOWN", on_unknown)
    return start(campus, write, text)


def feed(engine: Engine, t: float, **values: Value | None) -> list[Command]:
    """Readings for b1.r101 at time t (None: the device went offline)."""
    out: list[Command] = []
    for name, value in values.items():
        quality = Quality.UNAVAILABLE if value is None else Quality.GOOD
        out += engine.on_reading(Reading(f"b1.r101.{name}", value, t, quality))
    return out


def summary(commands: list[Command]) -> list[tuple[str, Value, float, str, int]]:
    return [(c.actuator, c.value, c.ts, c.source, c.priority) for c in commands]


VENT = "b1.r101.ventilation"
RULE = "rule:ventilate-stuffy-classrooms"


def test_start_up_settle_sends_every_actuator_once(campus: Campus, write: Write) -> None:
    result = load_rules(
        [write("r.yaml", STUFFY.replace("UNTIL_FOR", "0s").replace("ON_UNKNOWN", "hold"))], campus
    )
    engine = Engine(campus, result, now=T0, settle=5.0)
    assert engine.next_deadline() == T0 + 5.0
    assert feed(engine, T0 + 1, occupancy=True, co2=1100.0) == []
    assert engine.advance(T0 + 4.9) == []
    sent = engine.advance(T0 + 5.0)
    assert sorted(c.actuator for c in sent) == sorted(campus.actuators())
    assert {c.ts for c in sent} == {T0 + 5.0}
    by_id = {c.actuator: c for c in sent}
    assert (by_id["b1.r101.lights"].value, by_id["b1.r101.lights"].source) == (False, "default")
    assert by_id["b1.c1.lights"].priority == 17
    assert engine.advance(T0 + 100) == []  # nothing changed since
    # the hold that started during the settle still fires at exactly t+for
    assert summary(engine.advance(T0 + 121)) == [(VENT, 100.0, T0 + 121, RULE, 10)]


def test_for_hold_fires_at_exactly_t_plus_for(campus: Campus, write: Write) -> None:
    engine = stuffy(campus, write)
    t = T0 + 120
    assert feed(engine, t, occupancy=True, co2=1100.0) == []
    assert engine.instance("ventilate-stuffy-classrooms", "b1.r101").state is State.PENDING
    assert engine.next_deadline() == t + 120
    assert engine.advance(t + 119.999) == []
    commands = engine.advance(t + 120)
    assert summary(commands) == [(VENT, 100.0, t + 120, RULE, 10)]
    assert commands[0].reason == (
        "rule ventilate-stuffy-classrooms (comfort, slot 10) active since 08:04: "
        "occupancy=true, co2=1100 ppm"
    )
    info = engine.instance("ventilate-stuffy-classrooms", "b1.r101")
    assert (info.state, info.since, info.values) == (State.ACTIVE, t + 120, {"ventilation": 100.0})
    assert engine.instance("ventilate-stuffy-classrooms", "b1.r102").state is State.INACTIVE


def test_a_reading_that_breaks_the_hold_resets_it(campus: Campus, write: Write) -> None:
    engine = stuffy(campus, write)
    feed(engine, T0 + 10, occupancy=True, co2=1100.0)
    feed(engine, T0 + 70, co2=950.0)
    info = engine.instance("ventilate-stuffy-classrooms", "b1.r101")
    assert (info.state, info.cause) == (State.INACTIVE, "hold broken by b1.r101.co2=950 ppm")
    assert engine.advance(T0 + 95) == []
    feed(engine, T0 + 100, co2=1200.0)
    assert engine.advance(T0 + 130) == []  # the first hold would have ended here
    assert engine.advance(T0 + 219) == []
    assert summary(engine.advance(T0 + 220)) == [(VENT, 100.0, T0 + 220, RULE, 10)]


def test_until_and_until_for_hysteresis(campus: Campus, write: Write) -> None:
    engine = stuffy(campus, write, until_for="5m")
    feed(engine, T0 + 10, occupancy=True, co2=1100.0)
    engine.advance(T0 + 130)
    # below `when` but not yet below `until`: still active (hysteresis)
    assert feed(engine, T0 + 200, co2=900.0) == []
    assert engine.instance("ventilate-stuffy-classrooms", "b1.r101").state is State.ACTIVE
    assert feed(engine, T0 + 300, co2=700.0) == []
    assert engine.instance("ventilate-stuffy-classrooms", "b1.r101").state is State.RELEASING
    feed(engine, T0 + 400, co2=850.0)  # breaks the release hold
    info = engine.instance("ventilate-stuffy-classrooms", "b1.r101")
    assert (info.state, info.since) == (State.ACTIVE, T0 + 130)
    feed(engine, T0 + 500, co2=750.0)
    assert engine.advance(T0 + 799) == []
    commands = engine.advance(T0 + 800)
    assert summary(commands) == [(VENT, 20.0, T0 + 800, "default", 17)]
    assert engine.instance("ventilate-stuffy-classrooms", "b1.r101").state is State.INACTIVE


def test_until_defaults_to_not_when(campus: Campus, write: Write) -> None:
    engine = start(
        campus,
        write,
        "rules:\n  - id: lights\n    when: occupancy\n    set: {lights: on}\n",
    )
    assert summary(feed(engine, T0 + 10, occupancy=True)) == [
        ("b1.r101.lights", True, T0 + 10, "rule:lights", 10)
    ]
    assert summary(feed(engine, T0 + 20, occupancy=False)) == [
        ("b1.r101.lights", False, T0 + 20, "default", 17)
    ]


def test_on_unknown_hold_keeps_the_state(campus: Campus, write: Write) -> None:
    engine = stuffy(campus, write)
    feed(engine, T0 + 10, occupancy=True, co2=1100.0)
    engine.advance(T0 + 130)
    assert feed(engine, T0 + 200, co2=None) == []  # offline: unknown
    assert engine.instance("ventilate-stuffy-classrooms", "b1.r101").state is State.ACTIVE
    assert engine.actuator_value(VENT) == 100.0


def test_on_unknown_release_lets_go(campus: Campus, write: Write) -> None:
    engine = stuffy(campus, write, on_unknown="release")
    feed(engine, T0 + 10, occupancy=True, co2=1100.0)
    engine.advance(T0 + 130)
    commands = feed(engine, T0 + 200, co2=None)
    assert summary(commands) == [(VENT, 20.0, T0 + 200, "default", 17)]
    info = engine.instance("ventilate-stuffy-classrooms", "b1.r101")
    assert (info.state, info.cause) == (State.INACTIVE, "unknown: b1.r101.co2=unknown")


def test_release_breaks_a_pending_hold_on_unknown(campus: Campus, write: Write) -> None:
    engine = stuffy(campus, write, on_unknown="release")
    feed(engine, T0 + 10, occupancy=True, co2=1100.0)
    feed(engine, T0 + 20, co2=None)
    assert engine.instance("ventilate-stuffy-classrooms", "b1.r101").state is State.INACTIVE
    assert engine.advance(T0 + 200) == []


def test_stale_after_makes_the_point_unknown_at_that_moment(campus: Campus, write: Write) -> None:
    engine = stuffy(campus, write, on_unknown="release")
    feed(engine, T0 + 10, occupancy=True, co2=1100.0)
    engine.advance(T0 + 130)
    feed(engine, T0 + 300, co2=1150.0)  # co2 seen at +300; occupancy last seen at +10
    assert engine.advance(T0 + 609) == []
    commands = engine.advance(T0 + 610)  # occupancy stale_after 600 s
    assert summary(commands) == [(VENT, 20.0, T0 + 610, "default", 17)]
    assert engine.instance("ventilate-stuffy-classrooms", "b1.r101").cause == (
        "unknown: b1.r101.occupancy stale"
    )
    assert engine.point_value("b1.r101.occupancy") is UNKNOWN
    assert engine.point_value("b1.r101.co2") == 1150.0
    engine.advance(T0 + 900)
    assert engine.point_value("b1.r101.co2") is UNKNOWN


def test_frequent_readings_push_staleness_without_piling_up_timers(
    campus: Campus, write: Write
) -> None:
    engine = stuffy(campus, write)
    for i in range(2000):
        feed(engine, T0 + 10 + i * 0.5, co2=500.0 + (i % 2))
    assert engine.timers_armed < 10
    assert engine.point_value("b1.r101.co2") == 501.0


def test_coming_back_from_unknown_fires_nothing_by_itself(campus: Campus, write: Write) -> None:
    engine = stuffy(campus, write)
    feed(engine, T0 + 10, occupancy=True, co2=1100.0)
    engine.advance(T0 + 130)
    feed(engine, T0 + 200, co2=None)
    assert feed(engine, T0 + 300, co2=1120.0) == []
    info = engine.instance("ventilate-stuffy-classrooms", "b1.r101")
    assert (info.state, info.since) == (State.ACTIVE, T0 + 130)


def test_a_hold_that_ends_while_unknown_waits_for_a_known_value(
    campus: Campus, write: Write
) -> None:
    engine = stuffy(campus, write)
    feed(engine, T0 + 10, occupancy=True, co2=1100.0)
    feed(engine, T0 + 60, co2=None)
    assert engine.advance(T0 + 300) == []
    assert engine.instance("ventilate-stuffy-classrooms", "b1.r101").state is State.PENDING
    assert summary(feed(engine, T0 + 400, co2=1050.0)) == [(VENT, 100.0, T0 + 400, RULE, 10)]


def test_formula_values_follow_inputs_and_only_changes_go_out(campus: Campus, write: Write) -> None:
    engine = start(
        campus,
        write,
        "rules:\n  - id: dcv\n    rooms: kind == 'classroom'\n    when: occupancy\n"
        "    set:\n      ventilation: clamp((co2 - 600) / 4, 20, 100)\n    priority: energy\n",
    )
    assert feed(engine, T0 + 10, occupancy=True) == []  # value unknown: nothing written yet
    assert summary(feed(engine, T0 + 20, co2=800.0)) == [(VENT, 50.0, T0 + 20, "rule:dcv", 12)]
    assert feed(engine, T0 + 30, co2=800.0) == []
    assert feed(engine, T0 + 40, co2=None) == []  # unknown keeps the last value
    assert engine.actuator_value(VENT) == 50.0
    assert summary(feed(engine, T0 + 50, co2=1200.0)) == [(VENT, 100.0, T0 + 50, "rule:dcv", 12)]
    commands = feed(engine, T0 + 60, co2=900.0)
    assert commands[0].reason == (
        "rule dcv (energy, slot 12) active since 08:00: occupancy=true, co2=900 ppm"
    )
    assert commands[0].value == 75.0


def test_priorities_between_rules(campus: Campus, write: Write) -> None:
    text = STUFFY.replace("UNTIL_FOR", "0s").replace("ON_UNKNOWN", "hold") + (
        "  - id: dcv\n    rooms: kind == 'classroom'\n    when: occupancy\n"
        "    set:\n      ventilation: 40\n    priority: energy\n"
    )
    engine = start(campus, write, text)
    assert summary(feed(engine, T0 + 10, occupancy=True, co2=1100.0)) == [
        (VENT, 40.0, T0 + 10, "rule:dcv", 12)
    ]
    assert summary(engine.advance(T0 + 130)) == [(VENT, 100.0, T0 + 130, RULE, 10)]
    assert [h.source for h in engine.holders(VENT)] == [RULE, "rule:dcv", "default"]
    assert summary(feed(engine, T0 + 200, co2=700.0)) == [(VENT, 40.0, T0 + 200, "rule:dcv", 12)]


def test_overrides_expire_and_release(campus: Campus, write: Write) -> None:
    engine = stuffy(campus, write)
    feed(engine, T0 + 10, occupancy=True, co2=1100.0)
    engine.advance(T0 + 130)
    until = T0 + 3600
    commands = engine.set_override(VENT, 0.0, until, "alice", T0 + 200)
    assert summary(commands) == [(VENT, 0.0, T0 + 200, "override:alice", 8)]
    assert commands[0].reason == "override by alice until 09:00 (override, slot 8)"
    assert engine.holders(VENT)[0].until == until
    assert engine.advance(until - 1) == []  # (the sensors go stale meanwhile: hold)
    assert summary(engine.advance(until)) == [(VENT, 100.0, until, RULE, 10)]
    engine.set_override(VENT, 30.0, until + 3600, "bob", until + 10)
    assert summary(engine.release_override(VENT, until + 20)) == [
        (VENT, 100.0, until + 20, RULE, 10)
    ]
    with pytest.raises(ValueError, match="does not accept"):
        engine.set_override(VENT, 150.0, until + 3600, "bob", until + 30)
    with pytest.raises(ValueError, match="must end in the future"):
        engine.set_override(VENT, 10.0, until, "bob", until + 30)
    with pytest.raises(KeyError, match="no actuator"):
        engine.set_override("b1.r101.nothing", 10.0, until + 3600, "bob", until + 30)


def test_min_switch_interval_defers_in_the_engine(campus: Campus, write: Write) -> None:
    room = campus.room("b1.r101")
    room.actuators["lights"] = dataclasses.replace(
        room.actuators["lights"], min_switch_interval=60.0
    )
    engine = start(
        campus, write, "rules:\n  - id: lights\n    when: occupancy\n    set: {lights: on}\n"
    )
    assert feed(engine, T0 + 30, occupancy=True) == []  # settle sent `off` at T0 + 5
    assert engine.next_deadline() == T0 + 65
    assert summary(engine.advance(T0 + 65)) == [
        ("b1.r101.lights", True, T0 + 65, "rule:lights", 10)
    ]
    assert feed(engine, T0 + 70, occupancy=False) == []
    feed(engine, T0 + 80, occupancy=True)
    assert engine.advance(T0 + 125) == []  # back to `on` before the deadline: nothing to send


def test_actuator_feedback_and_wrong_types(campus: Campus, write: Write) -> None:
    engine = stuffy(campus, write)
    assert engine.on_reading(Reading("b1.r101.lights", True, T0 + 10)) == []
    assert engine.stats.not_a_point == 1
    feed(engine, T0 + 20, co2=900.0)
    feed(engine, T0 + 30, co2=True)
    assert engine.stats.wrong_type == 1
    assert engine.point_value("b1.r101.co2") is UNKNOWN
    feed(engine, T0 + 40, occupancy=1.0)
    assert engine.stats.wrong_type == 2


def test_values_are_taken_as_their_point_expects(campus: Campus, write: Write) -> None:
    """The common case (a float within the point's range, a boolean for a boolean point) and
    everything else (an integer, NaN, infinity, a value out of range, the wrong type) give what
    the point's type and range say, whichever way `Engine._take` reaches it."""
    room = campus.room("b1.r101")
    room.points["co2"] = dataclasses.replace(room.points["co2"], range=(250.0, 10000.0))
    engine = stuffy(campus, write)
    co2 = "b1.r101.co2"
    feed(engine, T0 + 10, co2=900)
    assert engine.point_value(co2) == 900.0
    assert type(engine.point_value(co2)) is float
    feed(engine, T0 + 20, co2=10000.0)
    assert engine.point_value(co2) == 10000.0  # the range includes its ends
    feed(engine, T0 + 30, co2=20000.0)
    assert engine.stats.implausible == 1
    assert engine.point_value(co2) == 10000.0  # dropped: the last value stays
    feed(engine, T0 + 40, co2=20000)
    assert engine.stats.implausible == 2
    feed(engine, T0 + 50, co2=math.nan)
    assert engine.stats.wrong_type == 1
    assert engine.point_value(co2) is UNKNOWN
    feed(engine, T0 + 60, co2=250.0)
    assert engine.point_value(co2) == 250.0
    feed(engine, T0 + 70, co2=math.inf)
    assert engine.stats.wrong_type == 2
    assert engine.point_value(co2) is UNKNOWN
    temperature = "b1.r101.temperature"  # no range: every finite number
    feed(engine, T0 + 80, temperature=-1e300)
    assert engine.point_value(temperature) == -1e300
    feed(engine, T0 + 90, temperature=-math.inf)
    assert engine.stats.wrong_type == 3
    assert engine.point_value(temperature) is UNKNOWN
    feed(engine, T0 + 100, occupancy=True)
    assert engine.point_value("b1.r101.occupancy") is True
    feed(engine, T0 + 110, occupancy=0.0)
    assert engine.stats.wrong_type == 4
    assert engine.point_value("b1.r101.occupancy") is UNKNOWN
    feed(engine, T0 + 120, co2=False)
    assert engine.stats.wrong_type == 5
    assert engine.point_value(co2) is UNKNOWN
    assert engine.stats.implausible == 2


def test_rules_can_read_actuators(campus: Campus, write: Write) -> None:
    engine = start(
        campus,
        write,
        "rules:\n  - id: lights\n    when: occupancy\n    set: {lights: on}\n"
        "  - id: air-with-light\n    rooms: kind == 'classroom'\n    when: lights\n"
        "    set: {ventilation: 60}\n",
    )
    commands = summary(feed(engine, T0 + 10, occupancy=True))
    assert commands == [
        ("b1.r101.lights", True, T0 + 10, "rule:lights", 10),
        (VENT, 60.0, T0 + 10, "rule:air-with-light", 10),
    ]


def test_a_rule_that_feeds_itself_is_cut_off(campus: Campus, write: Write) -> None:
    engine = start(
        campus,
        write,
        "rules:\n  - id: on-when-off\n    when: not lights\n    set: {lights: on}\n"
        "  - id: off-when-on\n    when: lights\n    set: {lights: off}\n    priority: 9\n",
    )
    assert engine.stats.cascade_cutoffs > 0
    feed(engine, T0 + 10, occupancy=True)


def test_age_fires_when_a_sensor_goes_quiet(campus: Campus, write: Write) -> None:
    engine = start(
        campus,
        write,
        "rules:\n  - id: quiet\n    rooms: kind == 'classroom'\n    when: age(co2) > 300\n"
        "    set: {lights: on}\n",
    )
    feed(engine, T0 + 10, co2=500.0)
    feed(engine, T0 + 200, co2=500.0)  # the same value still counts as a reading
    assert engine.advance(T0 + 500) == []
    commands = engine.advance(T0 + 501)
    assert [c.actuator for c in commands] == ["b1.r101.lights"]
    assert commands[0].ts == pytest.approx(T0 + 500, abs=1e-3)


def test_a_reading_reevaluates_only_the_instances_that_read_it(
    campus: Campus, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = start(
        campus,
        write,
        STUFFY.replace("UNTIL_FOR", "0s").replace("ON_UNKNOWN", "hold")
        + "  - id: lights\n    when: occupancy\n    set: {lights: on}\n",
    )
    seen: list[tuple[str, str]] = []
    original = Instance.evaluate

    def counting(self: Instance, now: float, cause: str) -> None:
        seen.append((self.rule.id, self.room))
        original(self, now, cause)

    monkeypatch.setattr(Instance, "evaluate", counting)
    feed(engine, T0 + 10, co2=900.0)
    assert seen == [("ventilate-stuffy-classrooms", "b1.r101")]
    seen.clear()
    feed(engine, T0 + 20, co2=900.0)  # the same value: nothing to re-evaluate
    assert seen == []
    feed(engine, T0 + 30, occupancy=True)
    assert sorted(seen) == [("lights", "b1.r101"), ("ventilate-stuffy-classrooms", "b1.r101")]
    seen.clear()
    feed(engine, T0 + 40, temperature=21.0)  # read by no rule
    assert seen == []


def test_engine_takes_a_plain_list_of_rules(campus: Campus, write: Write) -> None:
    result = load_rules(
        [write("r.yaml", "rules:\n  - id: lights\n    when: occupancy\n    set: {lights: on}\n")],
        campus,
    )
    engine = Engine(campus, result.rules, now=T0, settle=0.0)
    assert len(engine.advance(T0)) == len(campus.actuators())
    assert [i.room for i in engine.instances("lights")] == [
        "b1.r101",
        "b1.r102",
        "b1.r103",
        "b2.l1",
    ]
