"""The staff API of a Controller: validation with messages that say what is wrong, audit events,
alarms, explain; in process (no driver), on a virtual clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from campus.clock import VirtualClock
from campus.problems import CampusError
from campus.types import Reading
from controller.events import Audit
from controller.runtime import Controller
from rules.events import AlarmChanged, Transition
from rules.loader import load_rules
from tests.conftest import EXAMPLES
from tests.controller.harness import START, demo_campus

T = START


@pytest.fixture
def controller() -> Controller:
    campus = demo_campus()
    ruleset = load_rules([EXAMPLES / "rules"], campus)
    clock = VirtualClock(T)
    made = Controller(campus, ruleset, [], clock, settle=0.0)
    made.send(made.engine.advance(T))
    return made


def events_of(controller: Controller) -> list[object]:
    seen: list[object] = []
    for kind in (Audit, Transition, AlarmChanged):
        controller.bus.subscribe(kind, seen.append)
    return seen


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("main.r101.light", True, T + 60, "al"),
            r"no actuator 'main.r101.light' in the campus "
            r"\(did you mean 'main.r101.lights'\?\)",
        ),
        (
            ("main.r101.lights", 1, T + 60, "al"),
            r"main.r101.lights is a switch: give true or "
            r"false, not 1",
        ),
        (
            ("main.r101.ventilation", True, T + 60, "al"),
            r"main.r101.ventilation is a level: give "
            r"a number 0..100, not True",
        ),
        (
            ("main.r101.ventilation", 120, T + 60, "al"),
            r"main.r101.ventilation: 120 % is outside "
            r"its range 0..100",
        ),
        (
            ("main.r101.lights", True, T - 60, "al"),
            r"until is 60 s in the past: an override "
            r"must end in the future",
        ),
        (("main.r101.lights", True, T + 60, " "), r"who must name the person asking, got ' '"),
    ],
)
def test_override_refuses_bad_requests(
    controller: Controller, args: tuple[str, object, float, str], message: str
) -> None:
    with pytest.raises(CampusError, match=message):
        controller.override(*args)  # type: ignore[arg-type]


def test_override_release_and_audit(controller: Controller) -> None:
    seen = events_of(controller)
    controller.override("main.r101.ventilation", 60, T + 900, "alice")
    assert controller.engine.actuator_value("main.r101.ventilation") == 60.0
    assert controller.recent[-1].source == "override:alice"
    controller.release_override("main.r101.ventilation", "bob")
    assert controller.engine.actuator_value("main.r101.ventilation") == 0.0
    with pytest.raises(CampusError, match=r"main\.r101\.ventilation has no override to release"):
        controller.release_override("main.r101.ventilation", "bob")
    audits = [e for e in seen if isinstance(e, Audit)]
    assert [(a.who, a.action, a.detail) for a in audits] == [
        ("alice", "override", "main.r101.ventilation = 60 for 900 s"),
        ("bob", "release-override", "main.r101.ventilation"),
    ]


def test_rules_enable_disable_and_unknown_rule(controller: Controller) -> None:
    controller.handle(
        [
            [
                Reading("main.r101.occupancy", True, T),
                Reading("main.r101.illuminance", 100.0, T),
            ]
        ]
    )
    assert controller.engine.actuator_value("main.r101.lights") is True
    controller.set_rule_enabled("lights-on-when-occupied-and-dark", False, "carol")
    assert controller.engine.actuator_value("main.r101.lights") is False
    with pytest.raises(CampusError, match=r"no rule 'lights-on' \(did you mean "):
        controller.set_rule_enabled("lights-on", True, "carol")
    with pytest.raises(CampusError, match="enabled must be true or false, got 'yes'"):
        controller.set_rule_enabled("co2-alarm", "yes", "carol")  # type: ignore[arg-type]
    controller.set_rule_enabled("lights-on-when-occupied-and-dark", True, "carol")
    assert controller.engine.actuator_value("main.r101.lights") is True


def test_alarms_list_and_acknowledge(controller: Controller) -> None:
    seen = events_of(controller)
    clock = controller.clock
    assert isinstance(clock, VirtualClock)
    for minute in (0, 8, 16, 21):
        clock.set(T + minute * 60)
        controller.send(controller.engine.advance(clock.now()))
        controller.handle([[Reading("main.r102.co2", 1600.0 + minute, clock.now())]])
    (alarm,) = controller.alarms
    assert (alarm.id, alarm.active, alarm.first_seen) == ("co2-alarm@main.r102", True, T + 1200)
    assert alarm.message == "CO2 1616 ppm for 20 minutes in R102"
    with pytest.raises(CampusError, match=r"no alarm 'co2-alarm@main.r101' \(did you mean "):
        controller.acknowledge_alarm("co2-alarm@main.r101", "dave")
    controller.acknowledge_alarm("co2-alarm@main.r102", "dave")
    assert controller.alarms[0].acknowledged_by == "dave"
    changes = [e.alarm for e in seen if isinstance(e, AlarmChanged)]
    assert [(a.active, a.acknowledged_by) for a in changes] == [(True, None), (True, "dave")]


def test_explain_targets(controller: Controller) -> None:
    data = controller.explain("main.r101.lights")
    assert data["kind"] == "actuator"
    assert controller.explain("co2-alarm")["kind"] == "rule"
    assert controller.explain("co2-alarm@main.r101")["state"] == "inactive"
    assert controller.explain("main.r101")["kind"] == "room"
    with pytest.raises(CampusError, match=r"nothing called 'main.r10' \(did you mean"):
        controller.explain("main.r10")


def test_reload_reports_no_change(controller: Controller, tmp_path: Path) -> None:
    report = controller.reload_rules("erin")
    assert (report.ok, report.diff, report.problems) == (True, [], [])
