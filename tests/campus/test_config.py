"""campus.yaml: resolution of templates and ranges, and errors with FILE:LINE:COL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from campus.config import expand_room_ids, load_campus, parse_clock_range, parse_days
from campus.model import ActuatorType, PayloadFormat, ValueType
from campus.problems import ConfigError
from controller.cli import campus_schema

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
site: {id: test, name: Test School, timezone: Europe/Oslo}
kinds:
  classroom:
    points:
      co2: {unit: ppm, range: [250, 10000], stale_after: 10m,
            mqtt: {topic: "zigbee2mqtt/{building}-{room}-multisensor"}}
      occupancy: {type: bool, mqtt: {topic: "zigbee2mqtt/{building}-{room}-multisensor"}}
    actuators:
      lights: {type: switch, default: off, mqtt: {topic: "zigbee2mqtt/{building}-{room}-light"}}
      ventilation:
        type: level
        default: 0
        min_switch_interval: 1m
        mqtt: {topic: "zigbee2mqtt/{building}-{room}-fan", key: percentage}
buildings:
  - id: b1
    rooms:
      - {id: r101..r103, kind: classroom, capacity: 28, area: 60}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "campus.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_campus(write(tmp_path, text))
    return [str(p) for p in info.value.problems]


def test_templates_and_ranges_expand_into_rooms(tmp_path: Path) -> None:
    campus = load_campus(write(tmp_path, MINIMAL))
    assert [r.id for r in campus.rooms] == ["b1.r101", "b1.r102", "b1.r103"]
    room = campus.room("b1.r102")
    co2 = room.points["co2"]
    assert co2.id == "b1.r102.co2"
    assert co2.range == (250.0, 10000.0)
    assert co2.stale_after == 600.0
    assert co2.mqtt is not None
    assert co2.mqtt.topic == "zigbee2mqtt/b1-r102-multisensor"
    assert co2.mqtt.key == "co2"
    assert co2.mqtt.format is PayloadFormat.Z2M
    assert room.points["occupancy"].type is ValueType.BOOL
    lights = room.actuators["lights"]
    assert lights.type is ActuatorType.SWITCH
    assert lights.default is False
    assert lights.mqtt is not None
    assert lights.mqtt.key == "state"
    assert lights.mqtt.set_topic == "zigbee2mqtt/b1-r102-light/set"
    fan = room.actuators["ventilation"]
    assert fan.min_switch_interval == 60.0
    assert fan.default == 0.0


def test_the_demo_campus_loads() -> None:
    campus = load_campus(ROOT / "examples" / "campus.yaml")
    kinds = {room.kind for room in campus.rooms}
    assert {"classroom", "lab", "library", "corridor"} <= kinds
    assert campus.timetable[0][0].name == "lesson-1"
    assert campus.timetable[0][0].start == 8 * 60 + 15
    assert 5 not in campus.timetable


def test_an_actuator_binding_sets_the_qos_of_its_commands(tmp_path: Path) -> None:
    text = MINIMAL.replace('-light"}}', '-light", qos: 0}}')
    room = load_campus(write(tmp_path, text)).room("b1.r101")
    assert [(n, a.mqtt.qos) for n, a in room.actuators.items() if a.mqtt] == [
        ("lights", 0),
        ("ventilation", 1),
    ]
    for bad in ("2", "true", '"1"'):
        text = MINIMAL.replace('-light"}}', f'-light", qos: {bad}}}}}')
        (found,) = problems(tmp_path, text)
        assert found.startswith(f"{tmp_path}/campus.yaml:9:102: ")
        assert "lights.mqtt.qos must be one of 0, 1" in found


def test_unknown_key_is_reported_with_position_and_suggestion(tmp_path: Path) -> None:
    text = MINIMAL.replace("stale_after: 10m", "stale_afer: 10m")
    assert problems(tmp_path, text) == [
        f"{tmp_path}/campus.yaml:5:45: unknown key 'stale_afer' in kinds.classroom.points.co2"
        " (did you mean 'stale_after'?)"
    ]


def test_unknown_kind_and_bad_duration_are_both_reported(tmp_path: Path) -> None:
    text = MINIMAL.replace("kind: classroom", "kind: clasroom")
    found = problems(tmp_path, text)
    assert found == [
        f"{tmp_path}/campus.yaml:18:32: unknown room kind 'clasroom' (did you mean 'classroom'?)"
    ]
    text = MINIMAL.replace("min_switch_interval: 1m", "min_switch_interval: 1 minute")
    (found,) = problems(tmp_path, text)
    assert found.startswith(f"{tmp_path}/campus.yaml:13:30: ")
    assert "bad duration '1 minute'" in found


def test_semantic_errors(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace("timezone: Europe/Oslo", "timezone: Europe/Olso")
        .replace("type: switch, default: off", "type: switch, default: 3")
        .replace("area: 60}", "area: 60}\n      - {id: r102, kind: classroom}")
    )
    found = problems(tmp_path, text)
    assert found == [
        f"{tmp_path}/campus.yaml:1:47: unknown time zone 'Europe/Olso'",
        f"{tmp_path}/campus.yaml:9:39: actuator 'lights' is a switch: default must be on or off",
        f"{tmp_path}/campus.yaml:19:14: duplicate room id 'r102' in building 'b1'",
    ]


def test_yaml_syntax_error_has_a_position(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, MINIMAL.replace("kinds:\n", "kinds:\n  - [\n"))
    assert found.startswith(f"{tmp_path}/campus.yaml:")
    assert "YAML syntax" in found


def test_helpers() -> None:
    assert expand_room_ids("r098..r101") == ["r098", "r099", "r100", "r101"]
    assert expand_room_ids("lab1") == ["lab1"]
    with pytest.raises(ValueError, match=r"r101\.\.r130"):
        expand_room_ids("r110..a120")
    assert parse_days("Mon-Fri") == [0, 1, 2, 3, 4]
    assert parse_days("Sat,Mon") == [5, 0]
    assert parse_days("Fri-Mon") == [4, 5, 6, 0]
    with pytest.raises(ValueError, match="bad days"):
        parse_days("Mon-Fry")
    assert parse_clock_range("08:15-09:00") == (495, 540)
    with pytest.raises(ValueError, match="before the end"):
        parse_clock_range("10:00-09:00")


def test_shipped_json_schema_matches_the_model() -> None:
    shipped = json.loads((ROOT / "docs" / "campus.schema.json").read_text())
    assert shipped == campus_schema()
    site = shipped["$defs"]["SiteSection"]
    assert site["required"] == ["id", "name", "timezone"]
    assert site["additionalProperties"] is False
