"""Conflict and loop warnings, alarm message errors and timetable names, with exact positions."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from campus.model import Campus, Period
from campus.problems import Severity
from controller.cli import main
from rules.loader import load_rules
from tests.conftest import EXAMPLES

Write = Callable[[str, str], Path]


def problems_of(campus: Campus, write: Write, text: str) -> list[str]:
    path = write("r.yaml", text)
    result = load_rules([path], campus)
    return [str(p).replace(str(path.parent) + "/", "") for p in result.problems]


def rule(rule_id: str, when: str, sets: str, extra: str = "") -> str:
    return f"  - id: {rule_id}\n    when: {when}\n{extra}    set:\n      {sets}\n"


def test_conflict_names_both_rules_positions(campus: Campus, write: Write) -> None:
    text = (
        "rules:\n"
        + rule("a", "occupancy and co2 > 1000", "ventilation: 100")
        + rule("b", "occupancy and co2 > 900", "ventilation: 60")
    )
    assert problems_of(campus, write, text) == [
        "r.yaml:9:7: warning: conflict: rules 'a' (r.yaml:5:7) and 'b' (r.yaml:9:7) both "
        "write 'ventilation' at comfort (slot 10) and their conditions can hold at once "
        "(e.g. in b1.r101); give one another priority or make the conditions exclude each other"
    ]


@pytest.mark.parametrize(
    ("when_a", "when_b"),
    [
        ("occupancy and co2 > 1000", "co2 < 800"),
        ("occupancy", "not occupancy and co2 > 1"),
        ("co2 >= 1000", "co2 < 1000"),
        ("1000 < co2", "co2 <= 1000"),
        ('during("Mon-Fri 07:00-18:00")', 'not during("Mon-Fri 07:00-18:00")'),
        ('during("Mon-Fri 07:00-18:00")', 'during("Sat-Sun 07:00-18:00, Mon 18:00-19:00")'),
        ("occupancy and (co2 > 1000 or temperature > 26)", "not occupancy"),
    ],
)
def test_exclusive_conditions_do_not_warn(
    campus: Campus, write: Write, when_a: str, when_b: str
) -> None:
    text = "rules:\n" + rule("a", when_a, "ventilation: 100") + rule("b", when_b, "ventilation: 30")
    assert problems_of(campus, write, text) == []


@pytest.mark.parametrize(
    ("when_b", "extra_b", "sets_b"),
    [
        ("occupancy", "    priority: energy\n", "ventilation: 30"),  # another priority
        ("occupancy", "", "ventilation: 100"),  # the same constant: no fight
        ("occupancy", '    rooms: kind == "lab"\n', "ventilation: 30"),  # no room in common
    ],
)
def test_no_conflict_without_a_fight(
    campus: Campus, write: Write, when_b: str, extra_b: str, sets_b: str
) -> None:
    text = (
        "rules:\n"
        + rule("a", "occupancy", "ventilation: 100", '    rooms: kind == "classroom"\n')
        + rule("b", when_b, sets_b, extra_b)
    )
    assert problems_of(campus, write, text) == []


def test_overlapping_windows_warn(campus: Campus, write: Write) -> None:
    text = (
        "rules:\n"
        + rule("a", 'during("Mon-Fri 07:00-18:00")', "lights: on")
        + rule("b", 'during("Fri 17:00-23:00")', "lights: off")
    )
    (only,) = problems_of(campus, write, text)
    assert only.startswith("r.yaml:9:7: warning: conflict: rules 'a' (r.yaml:5:7) and 'b'")


def test_loop_warning_names_the_actuator(campus: Campus, write: Write) -> None:
    text = "rules:\n" + rule("a", "occupancy and not lights", "lights: on")
    assert problems_of(campus, write, text) == [
        "r.yaml:5:7: warning: loop: rule 'a' writes 'lights', which its own condition reads; "
        "its activity would switch itself; read a sensor instead"
    ]
    result = load_rules([write("r.yaml", text)], campus)
    assert [r.id for r in result.rules] == ["a"]  # a warning: the rule still loads
    assert result.problems[0].severity is Severity.WARNING


def test_loop_in_a_set_formula(campus: Campus, write: Write) -> None:
    text = "rules:\n" + rule("a", "occupancy", "ventilation: ventilation + 10")
    assert problems_of(campus, write, text) == [
        "r.yaml:5:7: warning: loop: rule 'a' writes 'ventilation', which its own set: value "
        "reads; its activity would switch itself; read a sensor instead"
    ]


ALARM = 'rules:\n  - id: a\n    when: co2 > 1500\n    alarm:\n      message: "{msg}"\n'


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "CO2 {co3:.0f}",
            "r.yaml:5:16: alarm message field {co3}: unknown name 'co3' (did you mean 'co2'?)",
        ),
        (
            "in {room.name:.0f}",
            "r.yaml:5:16: alarm message field {room.name}: format '.0f' does not fit text",
        ),
        (
            "CO2 {co2!r}",
            "r.yaml:5:16: alarm message field {co2}: write a name and an optional "
            "format, like {co2:.0f}",
        ),
        (
            "CO2 {co2",
            "r.yaml:5:16: alarm message: expected '}' before end of string; write "
            "{{ and }} for literal braces",
        ),
    ],
)
def test_alarm_message_errors(campus: Campus, write: Write, message: str, expected: str) -> None:
    assert problems_of(campus, write, ALARM.replace("{msg}", message)) == [expected]


def test_in_session_needs_a_timetable(campus: Campus, write: Write) -> None:
    text = "rules:\n" + rule("a", "in_session and occupancy", "lights: on")
    assert problems_of(campus, write, text) == [
        "r.yaml:3:11: in_session needs a timetable: in campus.yaml (none is defined)"
    ]


def test_unknown_period_with_did_you_mean(campus: Campus, write: Write) -> None:
    timed = dataclasses.replace(campus, timetable={0: (Period("lesson-1", 495, 540),)})
    text = "rules:\n" + rule("a", 'in_period("leson-1")', "lights: on")
    assert problems_of(timed, write, text) == [
        "r.yaml:3:11: no period 'leson-1' in the timetable (did you mean 'lesson-1'?); "
        "periods: lesson-1"
    ]


def test_in_session_is_refused_in_rooms(campus: Campus, write: Write) -> None:
    timed = dataclasses.replace(campus, timetable={0: (Period("lesson-1", 495, 540),)})
    text = "rules:\n  - id: a\n    rooms: in_session\n    when: occupancy\n    set: {lights: on}\n"
    assert problems_of(timed, write, text) == [
        "r.yaml:3:12: the timetable cannot be used here (rooms: is fixed, not timed)"
    ]


def test_rules_check_counts_read_in_the_singular(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        "r.yaml",
        'rules:\n  - id: idle\n    rooms: id == "main.r101"\n    when: occupancy\n',
    )
    assert main(["rules", "check", str(path), "--config", str(EXAMPLES / "campus.yaml")]) == 0
    *_, summary = capsys.readouterr().out.splitlines()
    assert summary == "1 rule loaded, 0 errors, 1 warning"
