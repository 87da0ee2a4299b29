"""The priority array: who wins, what is sent, when."""

from __future__ import annotations

import pytest

from campus.model import ActuatorSpec, ActuatorType
from campus.types import Command
from rules.arbiter import DEFAULT_SLOT, LEVELS, Arbiter


def level(deadband: float = 0.0, interval: float = 0.0, default: float = 20.0) -> Arbiter:
    spec = ActuatorSpec(
        "b1.r101.ventilation",
        "ventilation",
        "b1.r101",
        ActuatorType.LEVEL,
        default,
        deadband=deadband,
        min_switch_interval=interval,
    )
    arbiter = Arbiter(spec)
    arbiter.start(0.0)
    return arbiter


def switch(interval: float = 0.0) -> Arbiter:
    spec = ActuatorSpec(
        "b1.r101.lights",
        "lights",
        "b1.r101",
        ActuatorType.SWITCH,
        False,
        min_switch_interval=interval,
    )
    arbiter = Arbiter(spec)
    arbiter.start(0.0)
    return arbiter


def sent(command: Command | None) -> tuple[object, str, int] | None:
    return None if command is None else (command.value, command.source, command.priority)


def test_named_levels() -> None:
    assert LEVELS == {"safety": 1, "override": 8, "comfort": 10, "energy": 12, "schedule": 14}


def test_start_sends_the_default_once() -> None:
    spec = ActuatorSpec("x.y.lights", "lights", "x.y", ActuatorType.SWITCH, False)
    arbiter = Arbiter(spec)
    arbiter.write(10, True, "rule:a", "a")
    assert arbiter.poll(1.0) is None  # not started: nothing goes out
    command = arbiter.start(2.0)
    assert sent(command) == (True, "rule:a", 10)
    assert arbiter.poll(3.0) is None  # unchanged: nothing more


def test_lowest_slot_wins_and_relinquish_reveals_the_next() -> None:
    arbiter = level()
    arbiter.write(14, 30.0, "rule:night", "night")
    assert sent(arbiter.poll(1)) == (30.0, "rule:night", 14)
    arbiter.write(10, 100.0, "rule:stuffy", "stuffy")
    assert sent(arbiter.poll(2)) == (100.0, "rule:stuffy", 10)
    arbiter.write(12, 50.0, "rule:dcv", "dcv")
    assert arbiter.poll(3) is None  # slot 10 still wins
    assert arbiter.relinquish(10, "rule:stuffy") is True
    assert sent(arbiter.poll(4)) == (50.0, "rule:dcv", 12)
    arbiter.relinquish(12, "rule:dcv")
    arbiter.relinquish(14, "rule:night")
    command = arbiter.poll(5)
    assert sent(command) == (20.0, "default", DEFAULT_SLOT)
    assert command is not None
    assert "relinquish default" in command.reason


def test_same_slot_highest_value_wins_whatever_the_order() -> None:
    for order in (["rule:a", "rule:b"], ["rule:b", "rule:a"]):
        arbiter = level()
        values = {"rule:a": 40.0, "rule:b": 70.0}
        for source in order:
            arbiter.write(10, values[source], source, source)
        assert (arbiter.winner.source, arbiter.value) == ("rule:b", 70.0)
        arbiter.relinquish(10, "rule:b")
        assert (arbiter.winner.source, arbiter.value) == ("rule:a", 40.0)


def test_same_slot_equal_values_tie_to_first_source_name() -> None:
    arbiter = switch()
    arbiter.write(10, True, "rule:zeta", "z")
    arbiter.write(10, True, "rule:alpha", "a")
    assert arbiter.winner.source == "rule:alpha"
    assert [h.source for h in arbiter.holders()] == ["rule:alpha", "rule:zeta", "default"]


def test_only_changes_of_the_sent_value_go_out() -> None:
    arbiter = level()
    arbiter.write(12, 20.0, "rule:dcv", "same as default")
    assert arbiter.poll(1) is None
    arbiter.write(12, 55.0, "rule:dcv", "more")
    assert sent(arbiter.poll(2)) == (55.0, "rule:dcv", 12)
    arbiter.write(10, 55.0, "rule:other", "other, same value")
    assert arbiter.poll(3) is None


def test_deadband_holds_small_changes_but_lets_drift_add_up() -> None:
    arbiter = level(deadband=5.0)
    arbiter.write(12, 50.0, "rule:dcv", "")
    assert sent(arbiter.poll(1)) == (50.0, "rule:dcv", 12)
    for value in (52.0, 54.0):
        arbiter.write(12, value, "rule:dcv", "")
        assert arbiter.poll(2) is None
    arbiter.write(12, 55.5, "rule:dcv", "")
    assert sent(arbiter.poll(3)) == (55.5, "rule:dcv", 12)


def test_deadband_never_swallows_exact_targets() -> None:
    arbiter = level(deadband=5.0, default=20.0)
    arbiter.write(12, 98.0, "rule:dcv", "")
    arbiter.poll(1)
    arbiter.write(12, 100.0, "rule:dcv", "")  # to the top of the range
    assert sent(arbiter.poll(2)) == (100.0, "rule:dcv", 12)
    arbiter.write(12, 22.0, "rule:dcv", "")
    arbiter.poll(3)
    arbiter.relinquish(12, "rule:dcv")  # back to the default, 2 below
    assert sent(arbiter.poll(4)) == (20.0, "default", DEFAULT_SLOT)
    arbiter.write(12, 21.0, "rule:dcv", "")  # away from the default
    assert sent(arbiter.poll(5)) == (21.0, "rule:dcv", 12)
    arbiter.write(12, 2.0, "rule:dcv", "")
    arbiter.poll(6)
    arbiter.write(12, 0.0, "rule:dcv", "")  # fully closed
    assert sent(arbiter.poll(7)) == (0.0, "rule:dcv", 12)


def test_min_switch_interval_defers_and_sends_the_then_winner() -> None:
    arbiter = switch(interval=60.0)  # start() sent `off` at 0
    arbiter.write(10, True, "rule:a", "on")
    assert arbiter.poll(10.0) is None
    assert arbiter.deadline == 60.0
    assert arbiter.next_deadline() == 60.0
    arbiter.relinquish(10, "rule:a")  # back to off before the deadline
    arbiter.write(10, True, "rule:a", "on again")
    assert arbiter.poll(59.9) is None
    command = arbiter.poll(60.0)
    assert sent(command) == (True, "rule:a", 10)
    assert command is not None
    assert command.ts == 60.0
    arbiter.relinquish(10, "rule:a")
    assert arbiter.poll(100.0) is None
    assert arbiter.deadline == 120.0
    arbiter.write(10, True, "rule:a", "")  # the change went away before the deadline
    assert arbiter.poll(120.0) is None
    assert arbiter.deadline is None


def test_override_expires_and_replaces_earlier_overrides() -> None:
    arbiter = switch()
    arbiter.write(10, True, "rule:lights", "occupied")
    arbiter.poll(1)
    arbiter.override(False, "alice", until=100.0, reason="alice says off")
    assert sent(arbiter.poll(2)) == (False, "override:alice", 8)
    arbiter.override(True, "bob", until=50.0, reason="bob says on")
    assert [h.source for h in arbiter.holders()] == ["override:bob", "rule:lights", "default"]
    assert arbiter.next_deadline() == 50.0
    assert arbiter.expire(49.0) is False
    arbiter.expire(50.0)
    assert arbiter.winner.source == "rule:lights"
    arbiter.override(False, "carol", until=80.0, reason="")
    assert arbiter.release_override() is True
    assert arbiter.winner.source == "rule:lights"
    assert arbiter.release_override() is False


def test_refuses_bad_slots_and_values() -> None:
    arbiter = level()
    with pytest.raises(ValueError, match=r"slot must be 1\.\.16"):
        arbiter.write(17, 10.0, "rule:a", "")
    with pytest.raises(ValueError, match="does not accept"):
        arbiter.write(10, 150.0, "rule:a", "")
    with pytest.raises(ValueError, match="does not accept"):
        switch().write(10, 1.0, "rule:a", "")
