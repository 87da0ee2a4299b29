"""A small campus built directly from campus.model, and a helper that writes rule files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from campus.model import (
    ActuatorSpec,
    ActuatorType,
    Building,
    Campus,
    PointSpec,
    Room,
    Site,
    ValueType,
)


def _room(
    building: str,
    key: str,
    kind: str,
    *,
    points: dict[str, tuple[ValueType, str]],
    actuators: dict[str, ActuatorSpec],
    capacity: int = 30,
) -> Room:
    room_id = f"{building}.{key}"
    specs = {
        name: PointSpec(f"{room_id}.{name}", name, room_id, type=t, unit=unit, stale_after=600.0)
        for name, (t, unit) in points.items()
    }
    acts = {
        name: ActuatorSpec(
            id=f"{room_id}.{name}",
            name=name,
            room=room_id,
            type=a.type,
            default=a.default,
            range=a.range,
            min_switch_interval=a.min_switch_interval,
            deadband=a.deadband,
        )
        for name, a in actuators.items()
    }
    return Room(
        room_id, key, building, key.upper(), kind, capacity, 60.0, points=specs, actuators=acts
    )


def _act(
    t: ActuatorType, default: float | bool, rng: tuple[float, float] = (0.0, 100.0)
) -> ActuatorSpec:
    return ActuatorSpec("", "", "", t, default, range=rng)


CLASSROOM_POINTS = {
    "occupancy": (ValueType.BOOL, ""),
    "co2": (ValueType.NUMBER, "ppm"),
    "illuminance": (ValueType.NUMBER, "lx"),
    "temperature": (ValueType.NUMBER, "°C"),
}


def make_campus(timezone: str = "Europe/Oslo") -> Campus:
    """b1: r101, r102 classrooms; r103 a classroom without co2 sensor; c1 a corridor whose
    lights are a level; outdoor with a temperature. b2: lab l1."""
    classroom_acts = {
        "lights": _act(ActuatorType.SWITCH, False),
        "ventilation": _act(ActuatorType.LEVEL, 20.0),
        "heating_setpoint": _act(ActuatorType.LEVEL, 21.0, (5.0, 30.0)),
    }
    no_co2 = {k: v for k, v in CLASSROOM_POINTS.items() if k != "co2"}
    b1 = Building(
        "b1",
        "Main",
        (
            _room("b1", "r101", "classroom", points=CLASSROOM_POINTS, actuators=classroom_acts),
            _room(
                "b1",
                "r102",
                "classroom",
                points=CLASSROOM_POINTS,
                actuators=classroom_acts,
                capacity=60,
            ),
            _room("b1", "r103", "classroom", points=no_co2, actuators=classroom_acts),
            _room(
                "b1",
                "c1",
                "corridor",
                points={"occupancy": (ValueType.BOOL, "")},
                actuators={"lights": _act(ActuatorType.LEVEL, 0.0)},
            ),
            _room(
                "b1",
                "outdoor",
                "outdoor",
                points={"temperature": (ValueType.NUMBER, "°C")},
                actuators={},
            ),
        ),
    )
    b2 = Building(
        "b2",
        "Science",
        (_room("b2", "l1", "lab", points=CLASSROOM_POINTS, actuators=classroom_acts, capacity=24),),
    )
    return Campus(Site("demo", "Demo campus", timezone), (b1, b2))


@pytest.fixture
def campus() -> Campus:
    return make_campus()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """write(name, text) -> the path of a rules file in the test's folder."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
