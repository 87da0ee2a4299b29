"""Durable state (restart mid-hold), reload (carry unchanged instances), enable/disable, and
explain, on the pure engine with virtual time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from campus.model import Campus
from rules.durable import Saved, SavedOverride, capture
from rules.engine import Engine
from rules.explain import explain
from rules.instance import State
from rules.loader import load_rules
from tests.rules.test_engine import STUFFY, T0, VENT, feed, summary

Write = Callable[[str, str], Path]
RULES = STUFFY.replace("UNTIL_FOR", "0s").replace("ON_UNKNOWN", "hold")
LIGHTS = """\
  - id: lights-on
    rooms: kind == "classroom"
    when: occupancy and illuminance < 300
    set:
      lights: on
"""
RULE = "ventilate-stuffy-classrooms"


def engine_for(campus: Campus, path: Path, now: float, saved: Saved | None = None) -> Engine:
    ruleset = load_rules([path], campus)
    assert ruleset.ok, ruleset.problems
    engine = Engine(campus, ruleset, now, settle=0.0, saved=saved)
    engine.advance(now)
    return engine


def test_restart_mid_hold_fires_at_the_original_time(campus: Campus, write: Write) -> None:
    path = write("r.yaml", RULES)
    first = engine_for(campus, path, T0)
    feed(first, T0 + 10, occupancy=True, co2=1100.0)  # hold until T0 + 130
    saved = capture(first)
    (record,) = saved.instances
    assert (record.state, record.hold_until) == ("pending", T0 + 130)
    second = engine_for(campus, path, T0 + 70, saved)  # "restarted" a minute later
    info = second.instance(RULE, "b1.r101")
    assert (info.state, info.since) == (State.PENDING, T0 + 10)
    assert second.next_deadline() == T0 + 130
    feed(second, T0 + 75, occupancy=True, co2=1150.0)  # readings come back after the restart
    assert second.advance(T0 + 129) == []
    assert summary(second.advance(T0 + 130)) == [(VENT, 100.0, T0 + 130, "rule:" + RULE, 10)]


def test_restart_after_a_changed_rule_drops_its_state(campus: Campus, write: Write) -> None:
    path = write("r.yaml", RULES)
    first = engine_for(campus, path, T0)
    feed(first, T0 + 10, occupancy=True, co2=1100.0)
    saved = capture(first)
    path.write_text(RULES.replace("for: 2m", "for: 3m"))
    second = engine_for(campus, path, T0 + 20, saved)
    assert second.instance(RULE, "b1.r101").state is State.INACTIVE
    assert second.restored == [f"{RULE}@b1.r101: the rule changed; starting inactive"]


def test_latched_active_state_and_overrides_survive(campus: Campus, write: Write) -> None:
    path = write("r.yaml", RULES)
    first = engine_for(campus, path, T0)
    feed(first, T0 + 10, occupancy=True, co2=1100.0)
    first.advance(T0 + 130)
    feed(first, T0 + 200, co2=900.0)  # below when, above until: latched active
    first.set_override("b1.r102.lights", True, T0 + 3600, "alice", T0 + 200)
    first.set_override("b1.r103.lights", True, T0 + 300, "bob", T0 + 200)
    saved = capture(first)
    second = engine_for(campus, path, T0 + 400, saved)
    assert second.instance(RULE, "b1.r101").state is State.ACTIVE
    assert second.actuator_value(VENT) == 100.0
    assert second.actuator_value("b1.r102.lights") is True
    assert second.actuator_value("b1.r103.lights") is False  # expired while "down"
    assert "override of b1.r103.lights expired while stopped" in second.restored
    assert second.holders("b1.r102.lights")[0].until == T0 + 3600


def test_saved_state_from_the_future_is_not_restored(campus: Campus, write: Write) -> None:
    path = write("r.yaml", RULES)
    first = engine_for(campus, path, T0 + 1000)
    feed(first, T0 + 1010, occupancy=True, co2=1100.0)
    second = engine_for(campus, path, T0, capture(first))
    assert second.instance(RULE, "b1.r101").state is State.INACTIVE


def test_reload_keeps_unchanged_instances_and_their_holds(campus: Campus, write: Write) -> None:
    path = write("r.yaml", RULES + LIGHTS)
    engine = engine_for(campus, path, T0)
    feed(engine, T0 + 10, occupancy=True, co2=1100.0, illuminance=100.0)
    assert engine.actuator_value("b1.r101.lights") is True
    changed = RULES + LIGHTS.replace("300", "250")
    path.write_text(changed.replace("priority: comfort", "priority: comfort\n    description: x"))
    diff, _ = engine.replace_rules(load_rules([path], campus).rules, T0 + 60)
    assert diff == ["~ rule lights-on: when changed"]
    stuffy = engine.instance(RULE, "b1.r101")
    assert (stuffy.state, stuffy.since) == (State.PENDING, T0 + 10)  # carried, hold running
    assert engine.next_deadline() == T0 + 130
    lights = engine.instance("lights-on", "b1.r101")
    assert (lights.state, lights.cause) == (State.ACTIVE, "reload")  # rebuilt, re-evaluated
    assert summary(engine.advance(T0 + 130)) == [(VENT, 100.0, T0 + 130, "rule:" + RULE, 10)]


def test_reload_removes_and_adds_rules(campus: Campus, write: Write) -> None:
    path = write("r.yaml", RULES + LIGHTS)
    engine = engine_for(campus, path, T0)
    feed(engine, T0 + 10, occupancy=True, illuminance=100.0)
    path.write_text(RULES.replace(RULE, "renamed"))
    diff, commands = engine.replace_rules(load_rules([path], campus).rules, T0 + 60)
    assert diff == [
        f"- rule {RULE} (2 rooms)",
        "- rule lights-on (3 rooms)",
        "+ rule renamed (2 rooms)",
    ]
    assert ("b1.r101.lights", False) in [(c.actuator, c.value) for c in commands]
    assert engine.rule_ids() == ["renamed"]
    assert engine.live_instances("lights-on") == []


def test_disabled_rule_relinquishes_and_explains_itself(campus: Campus, write: Write) -> None:
    path = write("r.yaml", RULES + LIGHTS)
    engine = engine_for(campus, path, T0)
    feed(engine, T0 + 10, occupancy=True, illuminance=100.0)
    commands = engine.set_rule_enabled("lights-on", False, T0 + 20)
    assert [(c.actuator, c.value) for c in commands] == [("b1.r101.lights", False)]
    feed(engine, T0 + 30, illuminance=50.0)
    assert engine.actuator_value("b1.r101.lights") is False
    assert explain(engine, "lights-on@b1.r101")["why"] == [
        "rule lights-on is disabled (disabled by staff)"
    ]
    engine.set_rule_enabled("lights-on", True, T0 + 40)
    assert engine.actuator_value("b1.r101.lights") is True


def test_explain_names_the_false_part_and_the_reading_that_reset_the_hold(
    campus: Campus, write: Write
) -> None:
    path = write("r.yaml", RULES)
    engine = engine_for(campus, path, T0)
    feed(engine, T0 + 10, occupancy=True, co2=1100.0)
    feed(engine, T0 + 70, co2=950.0)
    data = explain(engine, f"{RULE}@b1.r101")
    assert data["state"] == "inactive"
    assert data["condition"] == {
        "role": "when",
        "text": "occupancy and co2 > 1000",
        "value": False,
        "op": "and",
        "parts": [
            {"text": "occupancy", "value": True},
            {"text": "co2 > 1000", "value": False},
        ],
    }
    assert data["why"] == [
        "not active: `co2 > 1000` is false",
        "the `for: 120s` hold was reset at 2026-11-23 08:01:10: hold broken by b1.r101.co2=950 ppm",
    ]
    assert [(t["from"], t["to"]) for t in data["transitions"]] == [
        ("inactive", "pending"),
        ("pending", "inactive"),
    ]


def test_explain_an_unknown_part_and_a_pending_hold(campus: Campus, write: Write) -> None:
    engine = engine_for(campus, write("r.yaml", RULES), T0)
    feed(engine, T0 + 10, co2=1100.0)
    assert explain(engine, f"{RULE}@b1.r101")["why"] == ["not active: `occupancy` is unknown"]
    feed(engine, T0 + 20, occupancy=True)
    assert explain(engine, f"{RULE}@b1.r101")["why"] == [
        "`when` is true and must stay true 120s: until 2026-11-23 08:02:20"
    ]


def test_explain_an_actuator_lists_every_slot(campus: Campus, write: Write) -> None:
    engine = engine_for(campus, write("r.yaml", RULES), T0)
    feed(engine, T0 + 10, occupancy=True, co2=1100.0)
    engine.advance(T0 + 130)
    engine.set_override(VENT, 40.0, T0 + 900, "alice", T0 + 140)
    data = explain(engine, VENT)
    slots = [(s["slot"], s["holder"], s["value"], s["since"], s["wins"]) for s in data["slots"]]
    assert slots == [
        (8, "override:alice", 40.0, T0 + 140, True),
        (10, "rule:" + RULE, 100.0, T0 + 130, False),
        (17, "default", 20.0, None, False),
    ]
    assert data["value"] == 40.0


def test_explain_refuses_unknown_targets_with_a_suggestion(campus: Campus, write: Write) -> None:
    engine = engine_for(campus, write("r.yaml", RULES), T0)
    import pytest

    from campus.problems import CampusError

    with pytest.raises(CampusError, match=r"did you mean 'b1.r101.lights'"):
        explain(engine, "b1.r101.light")
    with pytest.raises(CampusError, match=r"rule ventilate-stuffy-classrooms skips b1\.r103"):
        explain(engine, f"{RULE}@b1.r103")


def test_saved_override_record(campus: Campus, write: Write) -> None:
    engine = engine_for(campus, write("r.yaml", RULES), T0)
    engine.set_override("b1.r101.lights", True, T0 + 600, "alice", T0 + 5)
    (record,) = capture(engine).overrides
    assert record == SavedOverride("b1.r101.lights", True, "alice", T0 + 600, T0 + 5, record.reason)
    assert record.reason.startswith("override by alice until 08:10")
