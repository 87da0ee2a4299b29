"""Batch invariance: the same device messages give the same commands, rule transitions, timers
and alarms whether they arrive one at a time or in bursts of any size and split.

A driver hands over what one socket read brought (`campus.types.Batch`); the engine evaluates
each message on its own, in order. Hypothesis draws message sequences (rooms, fields around the
rules' thresholds, repeated stamps, unavailable sensors) and random burst splits, and compares
everything observable with one-at-a-time delivery: in the engine (`Engine.on_messages`) and
through the controller (`Controller.handle`, the path a driver's batch takes).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campus.clock import VirtualClock
from campus.types import Batch, Command, Quality, Reading
from controller.runtime import Controller
from rules.engine import Engine
from rules.events import AlarmChanged, Transition
from rules.loader import load_rules
from rules.schema import RuleSet
from tests.rules.conftest import make_campus
from tests.rules.test_engine import T0
from tests.support.campus_yaml import FAN_AND_LIGHT_RULES

Write = Callable[[str, str], Path]
CAMPUS = make_campus()
RULES = """\
rules:
  - id: fan
    rooms: kind == "classroom" or kind == "lab"
    when: occupancy and co2 > 1000
    for: 30s
    until: co2 < 800 or not occupancy
    until_for: 20s
    set:
      ventilation: 100
    priority: comfort
  - id: lights
    rooms: kind == "classroom" or kind == "lab"
    when: occupancy and illuminance < 300
    until: not occupancy
    set:
      lights: on
  - id: co2-alarm
    rooms: kind == "classroom" or kind == "lab"
    when: co2 > 1400
    for: 1m
    until: co2 < 1200
    alarm:
      severity: warning
      message: "CO2 {co2:.0f} ppm in {room.name}"
"""
ROOMS = ("b1.r101", "b1.r102", "b2.l1")
FIELDS = {
    "occupancy": st.booleans(),
    "co2": st.sampled_from([700.0, 800.0, 900.0, 1000.0, 1100.0, 1300.0, 1500.0]),
    "illuminance": st.sampled_from([200.0, 300.0, 350.0]),
    "temperature": st.sampled_from([20.0, 23.5]),
}


Drawn = tuple[float, str, dict[str, float | bool | None]]


@st.composite
def message(draw: st.DrawFn) -> Drawn:
    """(seconds after the previous message, room, fields); None: the sensor went offline."""
    gap = draw(st.sampled_from([0.0, 0.0, 0.5, 5.0, 25.0, 45.0, 90.0]))
    room = draw(st.sampled_from(ROOMS))
    names = draw(st.sets(st.sampled_from(sorted(FIELDS)), min_size=1))
    fields: dict[str, float | bool | None] = {}
    for name in sorted(names):
        offline = draw(st.integers(0, 19)) == 0
        fields[name] = None if offline else draw(FIELDS[name])
    return gap, room, fields


def messages_of(drawn: list[Drawn]) -> Batch:
    out: Batch = []
    t = T0 + 10.0
    for gap, room, fields in drawn:
        t += gap
        out.append(
            [
                Reading(f"{room}.{name}", value, t, Quality.GOOD)
                if value is not None
                else Reading(f"{room}.{name}", None, t, Quality.UNAVAILABLE)
                for name, value in fields.items()
            ]
        )
    return out


def bursts(messages: Batch, cuts: list[int]) -> list[Batch]:
    """`messages` split at the positions in `cuts` (which may repeat or fall outside)."""
    edges = sorted({0, len(messages), *(c % (len(messages) + 1) for c in cuts)})
    return [messages[a:b] for a, b in itertools.pairwise(edges)]


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    return ruleset(tmp_path_factory.mktemp("rules"), RULES)


def ruleset(folder: Path, text: str) -> RuleSet:
    path = folder / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_rules([path], CAMPUS)
    assert loaded.ok, [str(p) for p in loaded.problems]
    return loaded


def through_engine(rules: RuleSet, delivery: list[Batch]) -> tuple[list[object], ...]:
    """Everything observable after `delivery`: commands, events (transitions, alarm changes),
    then the timers run out an hour later, and the alarms and instance states at the end."""
    events: list[object] = []
    engine = Engine(CAMPUS, rules, T0, settle=5.0, listener=events.append)
    commands: list[Command] = list(engine.advance(T0 + 5.0))
    for burst in delivery:
        commands += engine.on_messages(burst)
        commands += engine.advance(max(r.ts for m in burst for r in m))  # as the loop does
    last = max((r.ts for b in delivery for m in b for r in m), default=T0)
    commands += engine.advance(last + 3600.0)
    states = [(i.rule, i.room, i.state, i.since) for i in engine.instances()]
    return list(commands), events, list(engine.alarms()), list(states)


def through_controller(rules: RuleSet, delivery: list[Batch]) -> tuple[list[object], ...]:
    """The same through `Controller.handle` (no driver: commands are read from `recent`)."""
    clock = VirtualClock(T0)
    controller = Controller(CAMPUS, rules, [], clock, settle=5.0)
    events: list[object] = []
    for kind in (Transition, AlarmChanged):
        controller.bus.subscribe(kind, events.append)
    clock.set(T0 + 5.0)
    controller.send(controller.engine.advance(clock.now()))
    for burst in delivery:
        clock.set(max(clock.now(), *(r.ts for m in burst for r in m)))
        controller.handle(burst)
        controller.send(controller.engine.advance(clock.now()))
    return list(controller.recent), events


DRAWN = st.lists(message(), min_size=1, max_size=40)
CUTS = st.lists(st.integers(0, 40), max_size=12)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=DRAWN, cuts=CUTS)
def test_the_engine_gives_the_same_whatever_the_bursts(
    rules: RuleSet, drawn: list[Drawn], cuts: list[int]
) -> None:
    messages = messages_of(drawn)
    one_by_one = through_engine(rules, [[m] for m in messages])
    assert through_engine(rules, bursts(messages, cuts)) == one_by_one
    assert through_engine(rules, [messages]) == one_by_one


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=DRAWN, cuts=CUTS)
def test_the_controller_gives_the_same_whatever_the_bursts(
    rules: RuleSet, drawn: list[Drawn], cuts: list[int]
) -> None:
    messages = messages_of(drawn)
    one_by_one = through_controller(rules, [[m] for m in messages])
    assert through_controller(rules, bursts(messages, cuts)) == one_by_one


def test_a_crossing_and_a_reading_in_the_band_in_one_burst_both_switch_on(tmp_path: Path) -> None:
    """The issue's case: a trigger (CO2 1100, 200 lx, occupied) and right behind it, from the
    same sensor, a reading inside both hysteresis bands (CO2 900, 350 lx): the fan latches on,
    the lights switch on and stay on. Merged into one (the later values), neither switched."""
    first = [
        Reading("b1.r101.occupancy", True, T0 + 10),
        Reading("b1.r101.co2", 1100.0, T0 + 10),
        Reading("b1.r101.illuminance", 200.0, T0 + 10),
    ]
    second = [
        Reading("b1.r101.occupancy", True, T0 + 10),
        Reading("b1.r101.co2", 900.0, T0 + 10),
        Reading("b1.r101.illuminance", 350.0, T0 + 10),
    ]
    commands, *_ = through_engine(ruleset(tmp_path, FAN_AND_LIGHT_RULES), [[first, second]])
    switched = {
        (c.actuator, c.value)
        for c in commands
        if isinstance(c, Command) and c.source.startswith("rule:")
    }
    assert switched == {("b1.r101.lights", True), ("b1.r101.ventilation", 100.0)}
