"""Campus objects for the simulator tests, built from the model's dataclasses (no YAML)."""

from __future__ import annotations

from typing import Any

from campus.model import (
    ActuatorSpec,
    ActuatorType,
    Building,
    Campus,
    MqttBinding,
    PointSpec,
    Room,
    Site,
    ValueType,
)

SENSOR_POINTS = ("occupancy", "illuminance", "co2", "temperature", "humidity")


def make_room(
    key: str,
    kind: str = "classroom",
    *,
    building: str = "b1",
    capacity: int = 30,
    area: float = 60.0,
    orientation: str = "S",
    prefix: str = "zigbee2mqtt",
) -> Room:
    """A room with a Z2M multisensor and the four standard actuators, each its own device."""
    room_id = f"{building}.{key}"
    name = f"{prefix}/{building}-{key}"
    points = {
        p: PointSpec(
            id=f"{room_id}.{p}",
            name=p,
            room=room_id,
            type=ValueType.BOOL if p == "occupancy" else ValueType.NUMBER,
            mqtt=MqttBinding(f"{name}-multisensor", key=p),
        )
        for p in SENSOR_POINTS
    }

    def actuator(
        act: str, device: str, binding_key: str, default: float = 0.0, **extra: Any
    ) -> ActuatorSpec:
        binding = MqttBinding(f"{name}-{device}", key=binding_key, **extra)
        high = 30.0 if act == "heating_setpoint" else 100.0
        return ActuatorSpec(
            id=f"{room_id}.{act}",
            name=act,
            room=room_id,
            type=ActuatorType.LEVEL,
            default=default,
            range=(5.0 if act == "heating_setpoint" else 0.0, high),
            mqtt=binding,
        )

    actuators = {
        "lights": actuator("lights", "lights", "brightness", scale=254),
        "ventilation": actuator("ventilation", "fan", "percentage"),
        "blinds": actuator("blinds", "blinds", "position", invert=True),
        "heating_setpoint": actuator(
            "heating_setpoint", "thermostat", "occupied_heating_setpoint", 21.0
        ),
    }
    return Room(
        id=room_id,
        key=key,
        building=building,
        name=key.upper(),
        kind=kind,
        capacity=capacity,
        area=area,
        orientation=orientation,
        points=points,
        actuators=actuators,
    )


def make_campus(*rooms: Room) -> Campus:
    """A one-building campus in Oslo; the default timetable (Mon-Fri) applies."""
    site = Site(id="test", name="Test school", timezone="Europe/Oslo")
    rooms = rooms or (make_room("r101"),)
    return Campus(site=site, buildings=(Building("b1", "Main", tuple(rooms)),))
