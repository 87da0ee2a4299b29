"""Campus scenarios: the campus a scenario generates, its conditions, its errors, the CLI."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from campus.config import load_campus
from campus.problems import ConfigError
from simulators import cli
from simulators.occupancy import RoomSchedule
from simulators.scenario import load_scenario
from simulators.world import World

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "examples" / "scenarios"

SMALL = """\
description: a small test campus
seed: 4
start: "2026-11-23 06:00"
site: {{id: t, name: Test, timezone: Europe/Oslo}}
kinds_from: {campus}
buildings:
  - id: b
    count: 2
    name: House
    rooms:
      - {{kind: classroom, count: 5, capacity: [20, 30], area: [50, 60], orientations: [N, E]}}
      - {{kind: corridor, count: 1, prefix: hall, area: [80, 80], orientations: [none]}}
conditions:
  sky: {sky}
  outdoor_co2: {co2}
  absence: {absence}
  use: {{classroom: 1.0}}
"""


def write(tmp_path: Path, **values: object) -> Path:
    fields = {"campus": ROOT / "examples" / "campus.yaml", "sky": "overcast", "co2": 450}
    fields |= {"absence": 0.1} | values
    path = tmp_path / "scenario.yaml"
    path.write_text(SMALL.format(**fields))
    return path


def test_a_scenario_generates_its_buildings_and_rooms(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path))
    campus = scenario.campus
    assert [b.id for b in campus.buildings] == ["b1", "b2"]
    assert [b.name for b in campus.buildings] == ["House b1", "House b2"]
    rooms = campus.buildings[0].rooms
    assert [r.id for r in rooms] == [*(f"b1.r{n}" for n in range(101, 106)), "b1.hall101"]
    for room in rooms[:5]:
        assert room.kind == "classroom"
        assert 20 <= room.capacity <= 30
        assert 50 <= room.area <= 60
        assert room.orientation in ("N", "E")
        assert set(room.points) >= {"occupancy", "illuminance", "co2"}
        assert set(room.actuators) == {"lights", "ventilation"}
    assert rooms[5].orientation == "none"
    assert campus.timetable, "the timetable comes from kinds_from when the scenario has none"
    assert scenario.start is not None
    assert campus.source == str(tmp_path / "scenario.yaml")


def test_the_same_seed_makes_the_same_campus(tmp_path: Path) -> None:
    first = load_scenario(write(tmp_path))
    again = load_scenario(write(tmp_path))
    assert first.campus_yaml == again.campus_yaml
    other = (tmp_path / "scenario.yaml").read_text().replace("seed: 4", "seed: 5")
    (tmp_path / "other.yaml").write_text(other)
    assert load_scenario(tmp_path / "other.yaml").campus_yaml != first.campus_yaml


def test_conditions_reach_the_simulated_world(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, sky="overcast", co2=470, absence=0.5))
    assert scenario.conditions.cloud == 1.0
    assert scenario.conditions.habits.absence == 0.5
    assert scenario.conditions.habits.use_probability("classroom") == 1.0
    assert scenario.start is not None
    world = World(scenario.campus, scenario.seed, scenario.start, conditions=scenario.conditions)
    assert world.outdoor.co2 == 470
    world.step(scenario.start + 3 * 3600)  # 09:00 local: daylight under an overcast sky
    assert world.outdoor.cloud == 1.0
    # Every classroom is used in every period (use 1.0), with about half the pupils away.
    room = scenario.campus.buildings[0].rooms[0]
    schedule = RoomSchedule(
        room,
        scenario.campus.timetable,
        "Europe/Oslo",
        scenario.seed,
        scenario.conditions.habits,
    )
    from datetime import date

    stays = schedule.day(date(2026, 11, 23))
    assert len(stays) == len(scenario.campus.timetable[0])
    assert all(s.people.pupils <= 0.8 * room.capacity for s in stays)


def test_clear_and_mixed_skies(tmp_path: Path) -> None:
    assert load_scenario(write(tmp_path, sky="clear")).conditions.cloud == 0.0
    assert load_scenario(write(tmp_path, sky="mixed")).conditions.cloud is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"absence": 1.5}, "absence is a probability"),
        ({"co2": -3}, "outdoor_co2 must be positive"),
        ({"sky": "stormy"}, "sky"),
        ({"campus": "/nonexistent/campus.yaml"}, "kinds_from: cannot read"),
    ],
)
def test_mistakes_are_reported_with_their_place(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_scenario(write(tmp_path, **change))
    text = str(caught.value)
    assert message in text
    assert str(tmp_path / "scenario.yaml") in text


def test_an_unknown_room_kind_names_the_scenario(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text().replace("kind: corridor", "kind: corridoor"))
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert "the campus this scenario generates has the problems below" in text
    assert "unknown room kind 'corridoor'" in text


@pytest.mark.parametrize("name", ["school-week.yaml", "winter-day.yaml"])
def test_the_example_scenarios_load(name: str) -> None:
    scenario = load_scenario(SCENARIOS / name)
    classrooms = [r for r in scenario.campus.rooms if r.kind == "classroom"]
    assert classrooms
    if name == "school-week.yaml":
        assert len(classrooms) >= 50


def test_simulate_writes_the_generated_campus(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    out = tmp_path / "campus.yaml"
    args = parser.parse_args(["--scenario", str(write(tmp_path)), "--write-campus", str(out)])
    assert cli.run(args) == 0
    campus = load_campus(out)
    assert [r.id for r in campus.rooms] == [
        r.id for r in load_scenario(write(tmp_path)).campus.rooms
    ]


def test_simulate_needs_a_campus_or_a_scenario() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args([])
    with pytest.raises(SystemExit):
        parser.parse_args(["--config", "a.yaml", "--scenario", "b.yaml"])
