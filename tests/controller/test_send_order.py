"""What the controller does first with an engine pass's outcome: the commands' write. The
transitions that decided them reach the bus after that, ahead of the commands, in the order the
listeners always saw (`Controller.decide`). A unit test of that order, with a driver that
records what is handed to it and when it is asked to write (drivers.base.Gathers)."""

from __future__ import annotations

import pytest

from campus.clock import VirtualClock
from campus.model import Campus
from campus.types import Batch, Command, Reading
from controller.runtime import Controller
from rules.events import OverrideChanged, Transition
from rules.loader import load_rules
from tests.conftest import EXAMPLES
from tests.controller.harness import START, demo_campus
from tests.controlplane.quiet import QuietDriver


class Recorder(QuietDriver):
    """The MQTT driver, never connected, noting in one log shared with the bus listeners each
    command handed to it and each `flush`."""

    def __init__(self, campus: Campus, clock: VirtualClock, log: list[str]) -> None:
        super().__init__(campus, clock, keep=False)
        self.log = log

    def send(self, command: Command) -> None:
        self.log.append(f"send {command.actuator}")

    def flush(self) -> None:
        self.log.append("flush")


def controller_with(log: list[str]) -> Controller:
    campus, clock = demo_campus(), VirtualClock(START)
    rules = load_rules([EXAMPLES / "rules"], campus)
    controller = Controller(campus, rules, [Recorder(campus, clock, log)], clock, settle=0.0)
    controller.bus.subscribe(Transition, lambda t: log.append(f"transition {t.rule}@{t.room}"))
    controller.bus.subscribe(Command, lambda c: log.append(f"bus {c.actuator}"))
    return controller


def test_a_pass_writes_its_commands_before_the_bus_hears_of_its_transitions() -> None:
    log: list[str] = []
    controller = controller_with(log)
    controller.handle([[Reading("main.r101.occupancy", False, START)]])  # the start-up pass
    log.clear()
    occupied = [  # an hour on: past the lights' min_switch_interval since the start-up pass
        Reading("main.r101.occupancy", True, START + 3600),
        Reading("main.r101.illuminance", 120.0, START + 3600),
    ]
    controller.handle([occupied])
    lit = "main.r101.lights"
    rule = "lights-on-when-occupied-and-dark@main.r101"
    assert f"transition {rule}" in log, log
    assert log.index(f"send {lit}") < log.index("flush") < log.index(f"transition {rule}"), log
    assert log.index(f"transition {rule}") < log.index(f"bus {lit}"), log


def test_what_a_failing_pass_reported_still_reaches_the_bus() -> None:
    """An engine pass that raises after a transition: the transition is not lost."""
    log: list[str] = []
    controller = controller_with(log)
    engine = controller.engine
    on_messages = engine.on_messages

    def failing(messages: Batch) -> list[Command]:
        on_messages(messages)
        raise RuntimeError("a bug after the transition")

    engine.on_messages = failing  # type: ignore[method-assign]
    occupied = [
        Reading("main.r101.occupancy", True, START + 3600),
        Reading("main.r101.illuminance", 120.0, START + 3600),
    ]
    with pytest.raises(RuntimeError, match="a bug"):
        controller.handle([occupied])
    assert "transition lights-on-when-occupied-and-dark@main.r101" in log, log


def test_a_staff_override_is_written_before_the_bus_hears_of_it() -> None:
    """Staff requests are engine passes too: the override's command first, then its event."""
    log: list[str] = []
    controller = controller_with(log)
    controller.bus.subscribe(OverrideChanged, lambda o: log.append(f"override {o.actuator}"))
    controller.handle([[Reading("main.r101.occupancy", False, START)]])  # the start-up pass
    log.clear()
    fan = "main.r101.ventilation"
    controller.override(fan, 100.0, START + 3600, "alice")
    assert log.index(f"send {fan}") < log.index("flush") < log.index(f"override {fan}"), log
    assert log.index(f"override {fan}") < log.index(f"bus {fan}"), log
