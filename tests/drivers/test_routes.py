"""The topic index built from the campus model."""

from __future__ import annotations

from dataclasses import replace

from campus.model import MqttBinding, PayloadFormat
from drivers.mqtt.routes import build_routes
from tests.drivers.sample_campus import device_topic, make_campus, multisensor_topic


def test_every_binding_is_indexed_by_topic() -> None:
    table = build_routes(make_campus("t"))
    sensor = table.routes[multisensor_topic("t")]
    assert [t.id for t in sensor.state] == [
        "b1.r101.occupancy",
        "b1.r101.illuminance",
        "b1.r101.co2",
        "b1.r101.temperature",
        "b1.r101.humidity",
    ]
    assert [t.id for t in table.routes[multisensor_topic("t") + "/availability"].availability] == [
        t.id for t in sensor.state
    ]
    assert [t.id for t in table.routes[device_topic("t", "dimmer")].state] == ["b1.r101.dimmer"]
    assert "t/b1/r102/co2/availability" not in table.routes
    assert sorted(table.actuators) == [
        "b1.r101.blinds",
        "b1.r101.dimmer",
        "b1.r101.fan",
        "b1.r101.lights",
        "b1.r101.thermostat",
        "b1.r102.lights",
    ]
    assert table.problems == []
    assert all("+" not in t and "#" not in t for t in table.topics)
    assert len(table.topics) == 2 * 6 + 3


def test_unusable_bindings_are_left_out_with_a_reason() -> None:
    campus = make_campus("t")
    room = campus.buildings[0].rooms[0]
    co2 = room.points["co2"]
    room.points["co2"] = replace(co2, mqtt=MqttBinding(multisensor_topic("t")))
    room.points["noise"] = replace(
        co2,
        id="b1.r101.noise",
        name="noise",
        mqtt=MqttBinding(multisensor_topic("t"), format=PayloadFormat.PLAIN),
    )
    fan = room.actuators["fan"]
    room.actuators["fan"] = replace(fan, mqtt=MqttBinding(device_topic("t", "fan")))
    table = build_routes(campus)
    assert len(table.problems) == 3
    assert "b1.r101.co2" in table.problems[0]
    assert "key" in table.problems[0]
    assert "b1.r101.noise" in table.problems[1]
    assert "already read as z2m" in table.problems[1]
    assert "b1.r101.fan" in table.problems[2]
    assert "b1.r101.fan" not in table.actuators
    assert len(table.routes[multisensor_topic("t")].state) == 4
