"""A small campus with every kind of MQTT binding the driver supports, under a topic prefix.

Tests share one broker, so each gives its own prefix and never sees another test's retained
messages. No pytest here: the will test's child process imports it too.
"""

from __future__ import annotations

from campus.model import (
    ActuatorSpec,
    ActuatorType,
    Building,
    Campus,
    MqttBinding,
    PayloadFormat,
    PointSpec,
    Room,
    Site,
    ValueType,
)

PLAIN = PayloadFormat.PLAIN


def multisensor_topic(prefix: str) -> str:
    return f"zigbee2mqtt/{prefix}-b1-r101-multisensor"


def device_topic(prefix: str, name: str) -> str:
    return f"zigbee2mqtt/{prefix}-b1-r101-{name}"


def make_campus(prefix: str) -> Campus:
    """b1.r101: a Z2M multisensor and five Z2M actuators; b1.r102: plain sensors and switch."""
    sensor = multisensor_topic(prefix)

    def z2m_point(name: str, kind: ValueType, low: float, high: float) -> PointSpec:
        return PointSpec(
            id=f"b1.r101.{name}",
            name=name,
            room="b1.r101",
            type=kind,
            range=None if kind is ValueType.BOOL else (low, high),
            mqtt=MqttBinding(sensor, key=name),
        )

    def level(
        name: str,
        key: str,
        *,
        scale: float | None = None,
        invert: bool = False,
        low: float = 0.0,
        high: float = 100.0,
    ) -> ActuatorSpec:
        return ActuatorSpec(
            id=f"b1.r101.{name}",
            name=name,
            room="b1.r101",
            type=ActuatorType.LEVEL,
            default=low,
            range=(low, high),
            mqtt=MqttBinding(device_topic(prefix, name), key=key, scale=scale, invert=invert),
        )

    r101 = Room(
        id="b1.r101",
        key="r101",
        building="b1",
        name="Room 101",
        kind="classroom",
        points={
            p.name: p
            for p in (
                z2m_point("occupancy", ValueType.BOOL, 0, 0),
                z2m_point("illuminance", ValueType.NUMBER, 0, 200_000),
                z2m_point("co2", ValueType.NUMBER, 250, 10_000),
                z2m_point("temperature", ValueType.NUMBER, -30, 60),
                z2m_point("humidity", ValueType.NUMBER, 0, 100),
            )
        },
        actuators={
            a.name: a
            for a in (
                ActuatorSpec(
                    id="b1.r101.lights",
                    name="lights",
                    room="b1.r101",
                    type=ActuatorType.SWITCH,
                    default=False,
                    mqtt=MqttBinding(device_topic(prefix, "lights")),
                ),
                level("dimmer", "brightness", scale=254.0),
                level("fan", "percentage"),
                level("blinds", "position", invert=True),
                level("thermostat", "occupied_heating_setpoint", low=5.0, high=30.0),
            )
        },
    )
    r102 = Room(
        id="b1.r102",
        key="r102",
        building="b1",
        name="Room 102",
        kind="classroom",
        points={
            "co2": PointSpec(
                id="b1.r102.co2",
                name="co2",
                room="b1.r102",
                range=(250, 10_000),
                mqtt=MqttBinding(f"{prefix}/b1/r102/co2", format=PLAIN),
            ),
            "occupancy": PointSpec(
                id="b1.r102.occupancy",
                name="occupancy",
                room="b1.r102",
                type=ValueType.BOOL,
                mqtt=MqttBinding(f"{prefix}/b1/r102/occupancy", format=PLAIN),
            ),
        },
        actuators={
            "lights": ActuatorSpec(
                id="b1.r102.lights",
                name="lights",
                room="b1.r102",
                type=ActuatorType.SWITCH,
                default=False,
                mqtt=MqttBinding(
                    f"{prefix}/b1/r102/lights",
                    format=PLAIN,
                    command_topic=f"{prefix}/b1/r102/lights/cmnd",
                ),
            ),
        },
    )
    return Campus(
        site=Site(id="test", name="Test site", timezone="Europe/Oslo"),
        buildings=(Building(id="b1", name="Building 1", rooms=(r101, r102)),),
    )
