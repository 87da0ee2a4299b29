"""Rules files: what loads, and every error with its exact FILE:LINE:COL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from campus.model import Campus
from campus.problems import Severity
from rules.loader import load_rules
from rules.schema import OnUnknown, SkippedRoom

Write = Callable[[str, str], Path]

GOOD = """\
rules:
  - id: ventilate-stuffy-classrooms          # unique across all files; [a-z0-9-]
    description: Keep occupied classrooms below 1000 ppm.
    rooms: kind == "classroom"
    when: occupancy and co2 > 1000
    for: 2m
    until: co2 < 800 or not occupancy
    until_for: 0s
    set:
      ventilation: 100
    priority: comfort

  - id: lights-on-when-occupied-and-dark
    rooms: kind in ["classroom", "library", "lab"]
    when: occupancy and illuminance < 300
    until: not occupancy
    until_for: 15m
    set:
      lights: on
    on_unknown: release

  - id: co2-alarm
    when: co2 > 1500
    for: 20m
    alarm:
      severity: critical
      message: "CO2 {co2:.0f} ppm for 20 minutes in {room.name}"

  - id: night-setback
    when: not during("Mon-Fri 07:00-18:00")
    set:
      heating_setpoint: 16
    priority: 14

tests:
  - name: stuffy occupied classroom gets air after two minutes
    room: b1.r101
    steps:
      - at: 0s
        readings: {occupancy: true, co2: 1100}
"""


def messages(path_problems: Sequence[object]) -> list[str]:
    return [str(p) for p in path_problems]


def test_the_spec_example_loads(campus: Campus, write: Write) -> None:
    path = write("classrooms.yaml", GOOD)
    result = load_rules([path], campus)
    assert result.problems == []
    assert result.ok
    ids = [r.id for r in result.rules]
    assert ids == [
        "ventilate-stuffy-classrooms",
        "lights-on-when-occupied-and-dark",
        "co2-alarm",
        "night-setback",
    ]
    stuffy = result.rule("ventilate-stuffy-classrooms")
    assert (stuffy.hold, stuffy.until_for, stuffy.priority) == (120.0, 0.0, 10)
    assert stuffy.rooms == ("b1.r101", "b1.r102")
    assert stuffy.skipped == (SkippedRoom("b1.r103", "no point 'co2'"),)
    assert stuffy.description == "Keep occupied classrooms below 1000 ppm."
    lights = result.rule("lights-on-when-occupied-and-dark")
    assert lights.rooms == ("b1.r101", "b1.r102", "b1.r103", "b2.l1")
    assert lights.on_unknown is OnUnknown.RELEASE
    assert lights.until_for == 900.0
    assert lights.actions[0].actuator == "lights"
    alarm = result.rule("co2-alarm")
    assert alarm.alarm is not None
    assert (alarm.alarm.severity, alarm.alarm.message) == (
        "critical",
        "CO2 {co2:.0f} ppm for 20 minutes in {room.name}",
    )
    assert alarm.rooms == ("b1.r101", "b1.r102", "b2.l1")
    night = result.rule("night-setback")
    assert night.priority == 14
    assert night.level == "schedule"
    assert night.rooms == ("b1.r101", "b1.r102", "b1.r103", "b2.l1")
    assert night.when.uses_time
    test = next(iter(result.tests.values()))[0]
    assert test.room is not None
    assert test.room.value == "b1.r101"


def test_folder_loads_sorted_yaml_files(campus: Campus, write: Write, tmp_path: Path) -> None:
    write("b.yml", "rules:\n  - id: b\n    when: occupancy\n    set: {lights: on}\n")
    write("a.yaml", "rules:\n  - id: a\n    when: occupancy\n    set: {lights: on}\n")
    write("notes.txt", "not rules")
    result = load_rules([tmp_path], campus)
    assert [r.id for r in result.rules] == ["a", "b"]
    assert [p.name for p in result.files] == ["a.yaml", "b.yml"]


def errors_of(campus: Campus, write: Write, text: str, name: str = "r.yaml") -> list[str]:
    path = write(name, text)
    return messages(load_rules([path], campus).problems)


CASES = [
    pytest.param(
        "rules:\n  - id: a\n    when: [occupancy\n",
        "r.yaml:4:1: YAML syntax: expected ',' or ']', but got '<stream end>'",
        id="yaml-syntax",
    ),
    pytest.param(
        "rules:\n  - id: a\n    wen: occupancy\n    when: occupancy\n    set: {lights: on}\n",
        "r.yaml:3:5: unknown key 'wen' in rules[0] (did you mean 'when'?)",
        id="unknown-key",
    ),
    pytest.param(
        "rulez:\n  - id: a\n",
        "r.yaml:1:1: unknown key 'rulez' in the file (did you mean 'rules'?)",
        id="unknown-top-key",
    ),
    pytest.param(
        "rules:\n  - id: Stuffy_Rooms\n    when: occupancy\n    set: {lights: on}\n",
        "r.yaml:2:9: rule id 'Stuffy_Rooms' may use only a-z, 0-9 and '-' "
        "(like ventilate-stuffy-classrooms)",
        id="bad-id",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n    for: 2 minutes\n    set: {lights: on}\n",
        "r.yaml:4:10: rules[0].for: bad duration '2 minutes': write a number with a unit, "
        "like 30s, 2m, 1h30m or 1d",
        id="bad-duration",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n    until_for: 1:30\n    set: {lights: on}\n",
        "r.yaml:4:16: rules[0].until_for: bad duration '1:30': write a number with a unit, "
        "like 30s, 2m, 1h30m or 1d",
        id="sexagesimal-duration",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy and co2 > 1000 ppm\n    set: {lights: on}\n",
        "r.yaml:3:36: does not parse: invalid syntax",
        id="parse-error",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy and sqrt(co2) > 3\n    set: {lights: on}\n",
        "r.yaml:3:25: unknown function 'sqrt'; functions are during, in_period, age, stale, "
        "min, max, abs, round, clamp",
        id="unknown-function",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy and co3 > 3\n    set: {lights: on}\n",
        "r.yaml:3:25: unknown name 'co3' (did you mean 'co2'?)",
        id="unknown-name",
    ),
    pytest.param(
        'rules:\n  - id: a\n    rooms: kind == "corridor"\n    when: co2 > 3\n',
        "r.yaml:4:11: no room this rule covers has 'co2'",
        id="name-no-covered-room-has",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy > 3\n    set: {lights: on}\n",
        "r.yaml:3:11: type mismatch: 'occupancy' is true/false but '3' is a number",
        id="type-mismatch",
    ),
    pytest.param(
        'rules:\n  - id: a\n    when: "co2 and occupancy"\n    set: {lights: on}\n',
        "r.yaml:3:12: type mismatch: 'and' needs true/false, but 'co2' is a number",
        id="quoted-expression-column",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n    set:\n      ventilation: 150\n",
        "r.yaml:5:20: ventilation: 150 is outside the range 0..100 of b1.r101.ventilation",
        id="out-of-range",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n    set:\n      heating_setpoint: 2 + 2\n",
        "r.yaml:5:25: heating_setpoint: 4 is outside the range 5..30 of b1.r101.heating_setpoint",
        id="out-of-range-folded-constant",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n    set:\n      lights: 100\n",
        "r.yaml:5:15: lights is a switch: set it to on or off, but '100' is a number",
        id="wrong-type-value",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n    set:\n      co2: 400\n",
        "r.yaml:5:7: set: 'co2' is a sensor (a point), not an actuator",
        id="set-on-sensor",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n    set:\n      ventilaton: 40\n",
        "r.yaml:5:7: set: unknown actuator 'ventilaton' (did you mean 'ventilation'?); "
        "actuators here: heating_setpoint, lights, ventilation",
        id="set-unknown-actuator",
    ),
    pytest.param(
        'rules:\n  - id: a\n    rooms: kind == "kitchen"\n    when: occupancy\n'
        "    set: {lights: on}\n",
        "r.yaml:3:12: rule 'a' covers no room: rooms: matches none of the 6 rooms",
        id="covers-no-room-filter",
    ),
    pytest.param(
        'rules:\n  - id: a\n    rooms: room.kind in ["corridor", "outdoor"]\n'
        "    when: occupancy and temperature > 3\n",
        "r.yaml:3:12: rule 'a' covers no room: b1.c1: no point 'temperature'; "
        "b1.outdoor: no point 'occupancy'",
        id="covers-no-room-names",
    ),
    pytest.param(
        'rules:\n  - id: a\n    rooms: kind == "corridor"\n    when: occupancy\n'
        "    set: {ventilation: 50}\n",
        "r.yaml:5:11: set: no room this rule covers has 'ventilation'",
        id="set-actuator-no-covered-room-has",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n    set: {lights: on}\n    priority: comfy\n",
        "r.yaml:5:15: unknown priority 'comfy' (did you mean 'comfort'?): "
        "use safety, override, comfort, energy, schedule or 1..16",
        id="unknown-priority",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n    set: {lights: on}\n    priority: 17\n",
        "r.yaml:5:15: priority 17 is out of range: use 1..16 or safety, override, comfort, "
        "energy, schedule",
        id="priority-range",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n    set: {lights: on}\n    on_unknown: keep\n",
        "r.yaml:5:17: rules[0].on_unknown must be one of hold, release, got 'keep'",
        id="on-unknown",
    ),
    pytest.param(
        "rules:\n  - id: a\n    rooms: co2 > 3\n    when: occupancy\n    set: {lights: on}\n",
        "r.yaml:3:12: rooms: may use room attributes only, and 'co2' is a point",
        id="rooms-uses-a-point",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n"
        "    set: {ventilation: clamp((co2 - 600) / 4, 20, 100)}\n",
        "r.yaml:4:10: rules[0].set: inside { } a comma ends a value, which splits "
        "clamp(x, low, high); write set: as an indented block, one actuator per line",
        id="flow-mapping-comma",
    ),
    pytest.param(
        "rules:\n  - id: a\n    set: {lights: on}\n",
        "r.yaml:2:5: rules[0] needs the key 'when'",
        id="missing-when",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy and during('Mon-Fry 07:00-18:00')\n"
        "    set: {lights: on}\n",
        "r.yaml:3:37: unknown day 'Fry': use Mon Tue Wed Thu Fri Sat Sun",
        id="bad-window",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: |\n      occupancy and\n      co3 > 1\n"
        "    set: {lights: on}\n",
        "r.yaml:3:11: unknown name 'co3' (did you mean 'co2'?)",
        id="block-scalar-points-at-value",
    ),
    pytest.param(
        "rules:\n  - id: a\n    when: occupancy\n    alarm:\n      severity: loud\n"
        "      message: hi\n",
        "r.yaml:5:17: rules[0].alarm.severity must be one of info, warning, critical, got 'loud'",
        id="alarm-severity",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_error_positions(campus: Campus, write: Write, text: str, expected: str) -> None:
    problems = errors_of(campus, write, text)
    folder = str(Path(problems[0].split(":")[0]).parent) + "/" if problems else ""
    assert [p.replace(folder, "") for p in problems] == [expected]


def test_duplicate_ids_across_files(campus: Campus, write: Write) -> None:
    first = write("a.yaml", "rules:\n  - id: same\n    when: occupancy\n    set: {lights: on}\n")
    second = write(
        "b.yaml",
        "rules:\n  - id: other\n    when: occupancy\n    set: {lights: on}\n"
        "  - id: same\n    when: occupancy\n    set: {lights: off}\n",
    )
    result = load_rules([first, second], campus)
    assert messages(result.problems) == [
        f"{second}:5:9: duplicate rule id 'same' (first at {first}:2:9)"
    ]
    assert [r.id for r in result.rules] == ["same", "other"]
    assert result.rule("same").pos.file == str(first)


def test_one_bad_rule_never_stops_the_others(campus: Campus, write: Write) -> None:
    first = write(
        "a.yaml",
        "rules:\n"
        "  - id: broken\n    wen: x\n    when: co3 > 1\n    set: {co2: 3}\n"
        "  - id: fine\n    when: occupancy\n    set: {lights: on}\n",
    )
    second = write("b.yaml", "rules:\n  - id: also-fine\n    when: not occupancy\n")
    third = write("c.yaml", "rules: [\n")
    result = load_rules([first, second, third], campus)
    assert [r.id for r in result.rules] == ["fine", "also-fine"]
    assert not result.ok
    lines = [str(p).replace(str(first.parent) + "/", "") for p in result.problems]
    assert lines == [
        "a.yaml:3:5: unknown key 'wen' in rules[0] (did you mean 'when'?)",
        "a.yaml:4:11: unknown name 'co3' (did you mean 'co2'?)",
        "a.yaml:5:11: set: 'co2' is a sensor (a point), not an actuator",
        "b.yaml:2:9: warning: rule 'also-fine' sets nothing and raises no alarm",
        "c.yaml:2:1: YAML syntax: expected the node content, but found '<stream end>'",
    ]
    assert [p.severity for p in result.warnings] == [Severity.WARNING]


def test_skipped_rooms_name_what_is_missing_or_different(campus: Campus, write: Write) -> None:
    path = write(
        "r.yaml",
        "rules:\n  - id: a\n    rooms: kind != 'outdoor'\n    when: occupancy and co2 > 1\n"
        "    set: {lights: on}\n",
    )
    rule = load_rules([path], campus).rule("a")
    assert rule.rooms == ("b1.r101", "b1.r102", "b2.l1")
    assert rule.skipped == (
        SkippedRoom("b1.r103", "no point 'co2'"),
        SkippedRoom("b1.c1", "no point 'co2'"),
    )


def test_type_differences_between_rooms_skip_the_odd_room(campus: Campus, write: Write) -> None:
    path = write("r.yaml", "rules:\n  - id: a\n    when: occupancy\n    set: {lights: on}\n")
    rule = load_rules([path], campus).rule("a")
    assert "b1.c1" not in rule.rooms
    reason = "'lights' is an actuator (number) here, the rule needs an actuator (bool)"
    assert rule.skipped == (
        SkippedRoom("b1.c1", reason),
        SkippedRoom("b1.outdoor", "no actuator 'lights'"),
    )


def test_missing_path(campus: Campus, tmp_path: Path) -> None:
    result = load_rules([tmp_path / "nope.yaml"], campus)
    assert messages(result.problems) == [f"{tmp_path / 'nope.yaml'}:1:1: no such file or folder"]
