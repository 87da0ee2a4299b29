"""The whole simulated campus without a broker: messages, commands, determinism, speed."""

from __future__ import annotations

import json

import pytest

from campus.clock import parse_start
from campus.config import load_campus
from campus.model import Building, Campus, MqttBinding, PayloadFormat, PointSpec, Room
from simulators.world import Publish, World
from tests.conftest import EXAMPLES
from tests.simulators.factory import make_campus, make_room

ZONE = "Europe/Oslo"
NIGHT = parse_start("2026-11-23 02:00", ZONE)
MORNING = parse_start("2026-11-23 08:00", ZONE)
SENSOR = "zigbee2mqtt/b1-r101-multisensor"


def run(world: World, until: float, step: float = 10.0) -> list[Publish]:
    out: list[Publish] = []
    t = world.now
    while t < until:
        t = min(until, t + step)
        out.extend(world.step(t))
    return out


def sensor_payloads(messages: list[Publish], topic: str = SENSOR) -> list[dict[str, object]]:
    return [json.loads(m.payload) for m in messages if m.topic == topic]


def test_start_announces_every_device() -> None:
    world = World(make_campus(), seed=1, start=NIGHT)
    messages = world.start_messages()
    availability = {m.topic: m for m in messages if m.topic.endswith("/availability")}
    assert set(availability) == {f"{t}/availability" for t in world.device_topics()}
    assert all(m.retain and m.payload == b'{"state":"online"}' for m in availability.values())
    states = {m.topic: json.loads(m.payload) for m in messages if not m.retain}
    assert states["zigbee2mqtt/b1-r101-lights"] == {"state": "OFF", "brightness": 254}
    assert states["zigbee2mqtt/b1-r101-blinds"]["position"] == 100
    report = states[SENSOR]
    assert set(report) == {
        "occupancy",
        "illuminance",
        "co2",
        "temperature",
        "humidity",
        "battery",
        "linkquality",
    }
    assert report["occupancy"] is False
    assert isinstance(report["illuminance"], int)
    assert isinstance(report["co2"], int)
    assert report["temperature"] == round(report["temperature"], 1)
    offline = world.stop_messages()
    assert {m.topic for m in offline} == set(availability)
    assert all(m.retain and m.payload == b'{"state":"offline"}' for m in offline)


def test_sensors_report_every_minute_and_not_retained() -> None:
    world = World(make_campus(), seed=1, start=NIGHT)
    messages = run(world, NIGHT + 600)
    reports = [m for m in messages if m.topic == SENSOR]
    assert len(reports) == 10
    assert not any(m.retain for m in reports)


def test_occupancy_change_is_reported_at_once() -> None:
    world = World(make_campus(), seed=1, start=MORNING)
    last, changes = False, 0
    for _ in range(3 * 360):
        messages = world.step(world.now + 10.0)
        pir = world.truth("b1.r101").pir
        if pir != last:
            assert sensor_payloads(messages)[-1]["occupancy"] is pir
            last, changes = pir, changes + 1
    assert changes >= 2


def test_only_bound_keys_are_reported_and_plain_topics_carry_the_value() -> None:
    room = make_room("r101")
    points = {
        "co2": PointSpec(
            "b1.r101.co2", "co2", "b1.r101", mqtt=MqttBinding("plain/r101/co2", PayloadFormat.PLAIN)
        ),
        "temperature": room.points["temperature"],
    }
    campus = Campus(
        make_campus().site,
        (
            Building(
                "b1",
                "Main",
                (Room("b1.r101", "r101", "b1", "R101", "classroom", 30, 60.0, points=points),),
            ),
        ),
    )
    world = World(campus, seed=1, start=NIGHT)
    messages = {m.topic: m.payload for m in world.start_messages() if not m.retain}
    assert float(messages["plain/r101/co2"]) == pytest.approx(420, abs=40)
    assert set(json.loads(messages[SENSOR])) == {"temperature", "battery", "linkquality"}


def test_fan_at_full_lowers_co2_during_lessons() -> None:
    still, vented = (World(make_campus(), seed=4, start=MORNING) for _ in range(2))
    reply = vented.on_message("zigbee2mqtt/b1-r101-fan/set", b'{"percentage":100}')
    assert [json.loads(m.payload) for m in reply] == [{"state": "ON", "percentage": 100}]
    assert vented.truth("b1.r101").ventilation == 1.0
    run(still, MORNING + 2 * 3600)
    run(vented, MORNING + 2 * 3600)
    assert still.truth("b1.r101").co2 > 1200
    assert vented.truth("b1.r101").co2 < 1000
    assert vented.truth("b1.r101").fan_wh > 0


def test_light_on_raises_illuminance() -> None:
    world = World(make_campus(), seed=1, start=NIGHT)
    assert world.truth("b1.r101").illuminance == 0.0
    world.on_message("zigbee2mqtt/b1-r101-lights/set", b'{"state":"ON","brightness":254}')
    messages = run(world, NIGHT + 120)
    assert world.truth("b1.r101").illuminance == pytest.approx(500.0)
    assert sensor_payloads(messages)[-1]["illuminance"] == pytest.approx(500, rel=0.1)
    assert world.truth("b1.r101").lighting_wh > 0


def test_blinds_and_daylight_at_noon() -> None:
    noon = parse_start("2026-11-23 12:00", ZONE)
    world = World(make_campus(), seed=1, start=noon)
    open_lux = world.truth("b1.r101").illuminance
    assert open_lux > 100
    world.on_message("zigbee2mqtt/b1-r101-blinds/set", b'{"position":0}')
    assert world.truth("b1.r101").blinds == 1.0
    assert world.truth("b1.r101").illuminance == pytest.approx(open_lux * 0.1)


def test_commands_for_unknown_topics_and_bad_payloads_do_nothing() -> None:
    world = World(make_campus(), seed=1, start=NIGHT)
    assert world.on_message("zigbee2mqtt/nobody/set", b'{"state":"ON"}') == []
    assert world.on_message("zigbee2mqtt/b1-r101-lights/set", b"garbage") == []
    assert world.truth("b1.r101").lights == 0.0


def test_same_seed_same_messages() -> None:
    a, b = (World(make_campus(), seed=9, start=MORNING) for _ in range(2))
    assert run(a, MORNING + 3600) == run(b, MORNING + 3600)
    c = World(make_campus(), seed=10, start=MORNING)
    assert run(c, MORNING + 3600) != run(
        World(make_campus(), seed=9, start=MORNING), MORNING + 3600
    )


def test_large_steps_are_cut_into_substeps() -> None:
    fine, coarse = (World(make_campus(), seed=2, start=MORNING) for _ in range(2))
    run(fine, MORNING + 3600, step=10.0)
    coarse.step(MORNING + 3600)
    assert coarse.now == fine.now
    assert coarse.truth("b1.r101") == fine.truth("b1.r101")
    assert coarse.people("b1.r101") == fine.people("b1.r101")


def test_outdoor_station_reports_the_weather() -> None:
    outdoor = make_room("outdoor", kind="outdoor")
    world = World(make_campus(outdoor), seed=1, start=parse_start("2026-11-23 12:00", ZONE))
    truth = world.truth("b1.outdoor")
    assert truth.co2 == 420.0
    assert truth.illuminance == pytest.approx(world.outdoor.illuminance)
    assert truth.temperature == pytest.approx(world.outdoor.temperature)


def test_fifty_rooms_for_a_whole_day() -> None:
    """A day of 50 rooms reports every minute and ends empty (its speed is measured in bench/)."""
    kinds = ["classroom"] * 30 + ["lab"] * 8 + ["library"] * 6 + ["corridor"] * 6
    campus = make_campus(*(make_room(f"r{i}", kind=k) for i, k in enumerate(kinds)))
    world = World(campus, seed=1, start=parse_start("2026-11-23 00:00", ZONE))
    messages = run(world, world.now + 86400.0)
    assert len(messages) > 50 * 1440
    assert sum(t.occupants for t in world.truths().values()) == 0


def test_the_demo_campus_runs() -> None:
    """examples/campus.yaml: switched lights, a fan, multisensors, a corridor without capacity."""
    campus = load_campus(EXAMPLES / "campus.yaml")
    world = World(campus, seed=0, start=MORNING)
    messages = world.start_messages() + run(world, MORNING + 3600)
    sensors = {p.mqtt.topic for p in campus.points().values() if p.mqtt is not None}
    assert sensors <= {m.topic for m in messages}
    light = next(a for a in campus.actuators().values() if a.name == "lights")
    assert light.mqtt is not None
    reply = world.on_message(light.mqtt.set_topic, b'{"state":"ON"}')
    assert [json.loads(m.payload) for m in reply] == [{"state": "ON"}]
    assert world.truth(light.room).lights == 1.0
    assert sum(t.occupants for t in world.truths().values()) > 0
