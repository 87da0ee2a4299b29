"""controller.shard's cut of the campus model: owned buildings, reference rooms, owned rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from campus.config import load_campus
from campus.problems import CampusError
from controller.shard import answers, parse_shard, prepare
from rules.loader import load_rules
from tests.shard.campus_fixture import CAMPUS, RULES


def _load(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "campus.yaml").write_text(CAMPUS)
    (tmp_path / "rules.yaml").write_text(RULES)
    campus = load_campus(tmp_path / "campus.yaml")
    return campus, load_rules([tmp_path / "rules.yaml"], campus)


def test_a_shard_sees_its_buildings_and_only_referenced_foreign_points(tmp_path: Path) -> None:
    campus, ruleset = _load(tmp_path)
    assert ruleset.ok, ruleset.problems
    shard, mine, rules = prepare("b1", campus, ruleset)
    assert shard.name == "b1"
    assert [b.id for b in mine.buildings] == ["b1", "b3"]
    reference = mine.room("b3.r301")
    assert list(reference.points) == ["co2"]
    assert reference.actuators == {}
    assert set(mine.actuators()) == {a for a in campus.actuators() if a.startswith("b1.")}
    assert rules.ok, rules.problems
    for rule in rules.rules:
        assert rule.rooms, rule.id
        assert all(room.startswith("b1.") for room in rule.rooms), (rule.id, rule.rooms)
    assert [room.id for room in shard.owned_rooms(mine)] == ["b1.r101", "b1.r102"]


def test_a_shard_owning_the_referenced_building_needs_no_reference_room(tmp_path: Path) -> None:
    campus, ruleset = _load(tmp_path)
    shard, mine, _ = prepare("b3,b1", campus, ruleset)
    assert shard.name == "b1-b3"
    assert [b.id for b in mine.buildings] == ["b1", "b3"]
    assert set(mine.room("b3.r301").actuators) == {"lights", "ventilation"}


def test_unknown_or_repeated_buildings_are_refused_with_the_known_ones(tmp_path: Path) -> None:
    campus, _ = _load(tmp_path)
    with pytest.raises(CampusError, match=r"no building 'b9'.*known: b1, b2, b3"):
        parse_shard("b1,b9", campus)
    with pytest.raises(CampusError, match="twice"):
        parse_shard("b1,b1", campus)
    with pytest.raises(CampusError, match="needs building ids"):
        parse_shard(" , ", campus)


def test_only_the_owner_answers_a_request_about_its_building(tmp_path: Path) -> None:
    campus, _ = _load(tmp_path)
    shard = parse_shard("b1", campus)
    assert answers(shard, b'{"actuator": "b1.r101.lights", "value": "on"}')
    assert not answers(shard, b'{"actuator": "b2.r201.lights", "value": "on"}')
    assert not answers(shard, b'{"alarm": "co2-seen@b3.r301"}')
    assert not answers(shard, b'{"target": "lights-follow-b3@b2.r201"}')
    assert answers(shard, b'{"target": "lights-follow-b3"}'), "a rule: every shard answers"
    assert answers(shard, b'{"rule": "co2-seen", "user": "x"}')
    assert answers(shard, b'{"actuator": "b9.r1.lights"}'), "unknown building: errors from all"
    assert answers(shard, b"not json")
