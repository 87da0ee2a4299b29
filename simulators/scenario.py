"""Campus scenarios: a short YAML file that generates a whole simulated campus.

A scenario names a site, a campus.yaml whose room kinds (points, actuators, topics) it reuses,
groups of buildings and rooms with ranges of sizes and a set of facade orientations, a weekly
timetable, and the conditions of the simulated week: the sky, the outdoor CO2, how often pupils
are absent, lessons end early or are quiet, and rooms are used. Rooms are drawn from the
scenario's seed, so the same file always makes the same campus, and the generated campus.yaml
can be written out for `campusctl run --config` so that controller and simulator agree on
every topic.

    campusctl simulate --scenario examples/scenarios/school-week.yaml --write-campus campus.yaml
    campusctl run --config campus.yaml --rules examples/rules
    campusctl simulate --scenario examples/scenarios/school-week.yaml --speed 60

Everything the simulator models (timetable, absences, early ends, PIR misses, daylight by sun
and sky, outdoor CO2, lighting and fan energy) lives in `simulators.occupancy`,
`simulators.outdoor` and `simulators.physics`; a scenario only chooses their parameters.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from campus.clock import parse_start
from campus.config import SiteSection, TimetableSection, load_campus
from campus.model import Campus
from campus.problems import ConfigError, Position, Problem
from campus.yamlmodel import Located, load
from simulators.occupancy import ABSENCE, DEFAULT_USE_PROBABILITY, EARLY_END, QUIET_LESSON, Habits
from simulators.outdoor import OUTDOOR_CO2_PPM
from simulators.world import Conditions

Orientation = Literal["N", "NE", "E", "SE", "S", "SW", "W", "NW", "none"]
SKY_COVER = {"mixed": None, "clear": 0.0, "cloudy": 0.5, "overcast": 1.0}
"""Sky condition -> fixed cloud cover (mixed: drawn per day and hour from the seed)."""
FIRST_ROOM_NUMBER = 101


@dataclass(frozen=True)
class RoomGroup:
    """`count` rooms of one kind, numbered on from the building's last room."""

    kind: Located[str]
    count: int = 1
    prefix: str = field(default="r", metadata={"doc": "room ids are <prefix><number>: r101"})
    capacity: tuple[float, float] = field(
        default=(0.0, 0.0), metadata={"doc": "[min, max] places, drawn per room"}
    )
    area: tuple[float, float] = field(
        default=(0.0, 0.0), metadata={"doc": "[min, max] floor area in m², drawn per room"}
    )
    height: float = 3.0
    orientations: list[Orientation] = field(
        default_factory=lambda: ["S"], metadata={"doc": "facades to draw from, per room"}
    )
    pos: Position | None = None


@dataclass(frozen=True)
class BuildingGroup:
    """One building, or `count` alike buildings ``<id>1..<id>N``."""

    id: Located[str]
    rooms: list[RoomGroup]
    count: int = 1
    name: str | None = None


@dataclass(frozen=True)
class ConditionsSection:
    """The week's weather and the school's habits (defaults: the simulator's own)."""

    sky: Literal["mixed", "clear", "cloudy", "overcast"] = field(
        default="mixed", metadata={"doc": "mixed: cloud cover drawn per day and hour"}
    )
    outdoor_co2: float = field(default=OUTDOOR_CO2_PPM, metadata={"doc": "ppm"})
    absence: float = field(default=ABSENCE, metadata={"doc": "chance a pupil is away"})
    early_end: float = field(default=EARLY_END, metadata={"doc": "chance a lesson ends early"})
    quiet_lesson: float = field(
        default=QUIET_LESSON, metadata={"doc": "chance a lesson is a silent test (PIR misses)"}
    )
    use: dict[str, float] = field(
        default_factory=dict,
        metadata={"doc": "room kind -> chance a room is used in a period (classroom 0.8)"},
    )
    default_use: float = DEFAULT_USE_PROBABILITY
    pos: Position | None = None


@dataclass(frozen=True)
class ScenarioFile:
    """A scenario: site, room kinds from a campus.yaml, generated buildings, conditions."""

    site: SiteSection
    kinds_from: Located[str] = field(
        metadata={"doc": "campus.yaml whose kinds: (and timetable:, if none here) to use"}
    )
    buildings: list[BuildingGroup]
    description: str = ""
    seed: int = 0
    start: str | None = field(
        default=None, metadata={"doc": "simulated start, local time like 2026-11-23 06:00"}
    )
    timetable: list[TimetableSection] = field(default_factory=list)
    conditions: ConditionsSection = field(default_factory=ConditionsSection)


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario: the campus it generated and how to simulate it."""

    file: str
    description: str
    campus: Campus
    conditions: Conditions
    seed: int
    start: float | None
    """POSIX seconds, or None when the file gives no start."""
    campus_yaml: str
    """The generated campus.yaml, for `campusctl run --config`."""


def load_scenario(path: Path) -> Scenario:
    """Read a scenario and generate its campus; raises ConfigError listing every problem."""
    raw, problems = load(path, ScenarioFile)
    if raw is None:
        raise ConfigError(problems)
    problems = _check(raw)
    template = _template(path, raw.kinds_from, problems)
    if problems:
        raise ConfigError(problems)
    document = campus_document(raw, template)
    text = (
        f"# Generated by campusctl from the scenario {path.name}; edit the scenario instead.\n"
        + yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=200)
    )
    with tempfile.TemporaryDirectory(prefix="campusctl-scenario-") as folder:
        generated = Path(folder) / f"{path.stem}.campus.yaml"
        generated.write_text(text, encoding="utf-8")
        try:
            campus = load_campus(generated)
        except ConfigError as exc:
            where = Position(str(path), raw.kinds_from.pos.line, raw.kinds_from.pos.col)
            hint = Problem(where, "the campus this scenario generates has the problems below")
            raise ConfigError([hint, *exc.problems]) from exc
    start = None
    if raw.start is not None:
        try:
            start = parse_start(raw.start, raw.site.timezone.value)
        except ValueError as exc:
            raise ConfigError([Problem(Position(str(path), 1, 1), f"start: {exc}")]) from exc
    return Scenario(
        file=str(path),
        description=raw.description,
        campus=dataclasses.replace(campus, source=str(path)),
        conditions=conditions(raw.conditions),
        seed=raw.seed,
        start=start,
        campus_yaml=text,
    )


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Plain YAML without anchors (libyaml's emitter when installed: 10,000 rooms in a blink)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def conditions(section: ConditionsSection) -> Conditions:
    habits = Habits(
        use=(*Habits().use, *section.use.items()),
        default_use=section.default_use,
        absence=section.absence,
        early_end=section.early_end,
        quiet_lesson=section.quiet_lesson,
    )
    return Conditions(habits=habits, cloud=SKY_COVER[section.sky], outdoor_co2=section.outdoor_co2)


def campus_document(raw: ScenarioFile, template: dict[str, Any]) -> dict[str, Any]:
    """The campus.yaml (as data) a scenario generates: rooms drawn from the scenario's seed."""
    rng = random.Random(f"{raw.seed}:scenario")
    site = raw.site
    document: dict[str, Any] = {
        "site": {
            "id": site.id.value,
            "name": site.name,
            "timezone": site.timezone.value,
            "latitude": site.latitude,
            "longitude": site.longitude,
        }
    }
    if raw.timetable:
        document["timetable"] = [
            {"days": t.days.value, "periods": {k: v.value for k, v in t.periods.items()}}
            for t in raw.timetable
        ]
    elif "timetable" in template:
        document["timetable"] = template["timetable"]
    document["kinds"] = template["kinds"]
    buildings = []
    for group in raw.buildings:
        ids = (
            [group.id.value]
            if group.count == 1
            else [f"{group.id.value}{n}" for n in range(1, group.count + 1)]
        )
        for building_id in ids:
            name = group.name or building_id
            if group.count > 1 and group.name:
                name = f"{group.name} {building_id}"
            buildings.append({"id": building_id, "name": name, "rooms": _rooms(rng, group.rooms)})
    document["buildings"] = buildings
    return document


def _rooms(rng: random.Random, groups: list[RoomGroup]) -> list[dict[str, Any]]:
    rooms: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    for group in groups:
        for _ in range(group.count):
            number = numbers.get(group.prefix, FIRST_ROOM_NUMBER)
            numbers[group.prefix] = number + 1
            room: dict[str, Any] = {"id": f"{group.prefix}{number}", "kind": group.kind.value}
            if group.capacity[1] > 0:
                room["capacity"] = round(rng.uniform(*group.capacity))
            if group.area[1] > 0:
                room["area"] = round(rng.uniform(*group.area), 1)
            room["height"] = group.height
            room["orientation"] = rng.choice(group.orientations)
            rooms.append(room)
    return rooms


def _check(raw: ScenarioFile) -> list[Problem]:
    """What the types alone cannot say: counts, ranges, probabilities."""
    problems: list[Problem] = []
    where = raw.kinds_from.pos

    def check(ok: bool, pos: Position | None, message: str) -> None:
        if not ok:
            problems.append(Problem(pos or where, message))

    for building in raw.buildings:
        check(building.count >= 1, building.id.pos, "building count must be at least 1")
        for group in building.rooms:
            check(group.count >= 1, group.pos, f"{group.kind.value}: count must be at least 1")
            for what, (low, high) in (("capacity", group.capacity), ("area", group.area)):
                check(
                    0 <= low <= high,
                    group.pos,
                    f"{group.kind.value}: {what} must be [min, max] with 0 <= min <= max",
                )
            check(bool(group.orientations), group.pos, "orientations must not be empty")
    c = raw.conditions
    for name, value in [
        ("absence", c.absence),
        ("early_end", c.early_end),
        ("quiet_lesson", c.quiet_lesson),
        ("default_use", c.default_use),
        *((f"use.{kind}", p) for kind, p in c.use.items()),
    ]:
        check(0.0 <= value <= 1.0, c.pos, f"conditions: {name} is a probability 0..1, got {value}")
    check(
        c.outdoor_co2 > 0,
        c.pos,
        f"conditions: outdoor_co2 must be positive ppm, got {c.outdoor_co2}",
    )
    return problems


def _template(path: Path, kinds_from: Located[str], problems: list[Problem]) -> dict[str, Any]:
    """The kinds (and timetable) of the campus.yaml the scenario points at, as plain data."""
    file = (path.parent / kinds_from.value).resolve()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(Problem(kinds_from.pos, f"kinds_from: cannot read {file}: {exc.strerror}"))
        return {}
    except yaml.YAMLError as exc:
        problems.append(Problem(kinds_from.pos, f"kinds_from: {file} is not valid YAML: {exc}"))
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("kinds"), dict):
        problems.append(Problem(kinds_from.pos, f"kinds_from: {file} has no kinds: section"))
        return {}
    return data
