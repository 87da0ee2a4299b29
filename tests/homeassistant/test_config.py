"""campus.yaml's homeassistant: section and bindings: resolution and errors with positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from campus.config import load_campus
from campus.model import Campus, HaBinding
from campus.problems import ConfigError

GOOD = """\
site: {id: test, name: Test, timezone: Europe/Oslo}
homeassistant: {url: "http://127.0.0.1:8123", token_file: secrets/ha-token}
kinds:
  classroom:
    points:
      co2: {unit: ppm, homeassistant: {entity: "sensor.{building}_{room}_co2"}}
      outdoor: {homeassistant: {entity: weather.home, attribute: temperature}}
    actuators:
      lights: {type: level, default: 0, homeassistant: {entity: "light.{room}"}}
      blinds: {type: level, default: 0, homeassistant: {entity: "cover.{room}", invert: true}}
buildings:
  - id: b1
    rooms: [{id: r101..r102, kind: classroom}]
"""


def load(tmp_path: Path, text: str) -> Campus:
    path = tmp_path / "campus.yaml"
    path.write_text(text)
    return load_campus(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return [str(p) for p in info.value.problems]


def test_bindings_are_filled_in_per_room_and_the_token_file_is_next_to_the_campus(
    tmp_path: Path,
) -> None:
    campus = load(tmp_path, GOOD)
    assert campus.homeassistant is not None
    assert campus.homeassistant.url == "http://127.0.0.1:8123"
    assert campus.homeassistant.token_env is None
    assert campus.homeassistant.token_file == str(tmp_path / "secrets" / "ha-token")
    room = campus.room("b1.r102")
    assert room.points["co2"].homeassistant == HaBinding("sensor.b1_r102_co2")
    assert room.points["outdoor"].homeassistant == HaBinding("weather.home", "temperature")
    assert room.actuators["lights"].homeassistant == HaBinding("light.r102")
    assert room.actuators["blinds"].homeassistant == HaBinding("cover.r102", invert=True)
    assert room.actuators["lights"].mqtt is None


def test_the_token_comes_from_an_environment_variable_by_default(tmp_path: Path) -> None:
    campus = load(tmp_path, GOOD.replace(", token_file: secrets/ha-token", ""))
    assert campus.homeassistant is not None
    assert campus.homeassistant.token_env == "CAMPUSCTL_HA_TOKEN"
    assert campus.homeassistant.token_file is None


def test_mistakes_are_reported_with_their_position(tmp_path: Path) -> None:
    text = """\
site: {id: test, name: Test, timezone: Europe/Oslo}
homeassistant: {url: "127.0.0.1:8123", token_env: T, token_file: f}
kinds:
  classroom:
    points:
      co2: {homeassistant: {entity: "Sensor CO2"}, mqtt: {topic: x}}
      temp: {homeassistant: {entity: "sensor.{floor}"}}
    actuators:
      lights: {type: level, default: 0, homeassistant: {entity: switch.r1}}
      fan: {type: level, default: 0, homeassistant: {entity: sensor.r1_fan}}
      heat: {type: level, default: 20, homeassistant: {entity: climate.r1, attribute: x}}
buildings:
  - id: b1
    rooms: [{id: r101, kind: classroom}]
"""
    found = problems(tmp_path, text)
    joined = "\n".join(found)
    assert "campus.yaml:2:22: homeassistant url '127.0.0.1:8123'" in joined
    assert "give token_env or token_file, not both" in joined
    assert "campus.yaml:6:37: point 'co2' has both mqtt: and homeassistant:" in joined
    assert "'Sensor CO2' is not a Home Assistant entity id" in joined
    assert "entity 'sensor.{floor}': only {site}, {building}, {room}, {kind}" in joined
    assert "actuator 'lights' is a level, but a switch entity can only be a switch" in joined
    assert "sensor entities cannot be driven" in joined
    assert "actuator 'heat': attribute is for points" in joined


def test_a_binding_needs_the_top_level_section(tmp_path: Path) -> None:
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith("homeassistant"))
    found = problems(tmp_path, text)
    assert any("add a top-level homeassistant: section" in p for p in found)
