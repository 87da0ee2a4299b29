"""Simulated actuator devices: Z2M and plain commands, decoding, bad input."""

from __future__ import annotations

import json
import logging

import pytest

from campus.model import ActuatorSpec, ActuatorType, MqttBinding, PayloadFormat
from campus.types import Value
from simulators.devices import Device


def device(
    name: str,
    binding: MqttBinding,
    default: Value = 0.0,
    kind: ActuatorType = ActuatorType.LEVEL,
) -> Device:
    spec = ActuatorSpec(f"b1.r1.{name}", name, "b1.r1", kind, default, mqtt=binding)
    return Device(binding, [spec])


def state(d: Device) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(d.state())
    return parsed


LIGHT = MqttBinding("z/light", key="brightness", scale=254)


def test_light_on_off_toggle_and_brightness() -> None:
    light = device("lights", LIGHT)
    assert state(light) == {"state": "OFF", "brightness": 254}
    assert light.command("z/light/set", b'{"state":"ON"}')
    assert light.values() == {"lights": 100.0}
    assert light.command("z/light/set", b'{"brightness":127}')
    assert light.values()["lights"] == pytest.approx(50.0)
    assert state(light) == {"state": "ON", "brightness": 127}
    assert light.command("z/light/set", b'{"brightness":0}')
    assert light.values() == {"lights": 0.0}
    assert light.command("z/light/set", b'{"state":"TOGGLE"}')
    assert light.values()["lights"] == pytest.approx(50.0)
    assert light.command("z/light/set", b'{"state":"OFF","brightness":300}')
    assert state(light)["brightness"] == 254


def test_switched_light_reads_as_a_bool() -> None:
    light = device("lights", MqttBinding("z/relay", key="state"), False, ActuatorType.SWITCH)
    assert state(light) == {"state": "OFF"}
    light.command("z/relay/set", b'{"state":"ON"}')
    assert light.values() == {"lights": True}


def test_fan_percentage_and_off() -> None:
    fan = device("ventilation", MqttBinding("z/fan", key="percentage"), 20.0)
    assert state(fan) == {"state": "ON", "percentage": 20}
    fan.command("z/fan/set", b'{"percentage":100}')
    assert fan.values() == {"ventilation": 100.0}
    fan.command("z/fan/set", b'{"state":"OFF"}')
    assert fan.values() == {"ventilation": 0.0}
    assert state(fan) == {"state": "OFF", "percentage": 100}


def test_cover_position_is_open_percent_and_blinds_closed_percent() -> None:
    cover = device("blinds", MqttBinding("z/cover", key="position", invert=True), 0.0)
    assert state(cover) == {"position": 100, "state": "OPEN"}
    cover.command("z/cover/set", b'{"position":30}')
    assert cover.values() == {"blinds": 70.0}
    cover.command("z/cover/set", b'{"state":"CLOSE"}')
    assert cover.values() == {"blinds": 100.0}


def test_thermostat_setpoint() -> None:
    thermostat = device("heating_setpoint", MqttBinding("z/trv"), 21.0)
    thermostat.command("z/trv/set", b'{"occupied_heating_setpoint":19.5}')
    assert thermostat.values() == {"heating_setpoint": 19.5}
    assert state(thermostat)["occupied_heating_setpoint"] == 19.5


def test_plain_device_takes_words_and_numbers() -> None:
    binding = MqttBinding("plain/fan", PayloadFormat.PLAIN, command_topic="plain/fan/cmd")
    fan = device("ventilation", binding)
    assert fan.command_topics == ["plain/fan/cmd"]
    assert fan.command("plain/fan/cmd", b"60")
    assert fan.values() == {"ventilation": 60.0}
    assert fan.state() == b"60"
    assert fan.command("plain/fan/cmd", b"OFF")
    assert fan.state() == b"0"
    assert fan.command("plain/fan/cmd", b"on")
    assert fan.values() == {"ventilation": 60.0}


def test_get_asks_for_the_state() -> None:
    light = device("lights", LIGHT)
    assert light.command_topics == ["z/light/set", "z/light/get"]
    assert light.command("z/light/get", b'{"state":""}')
    assert light.values() == {"lights": 0.0}


def test_bad_commands_are_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    light = device("lights", LIGHT)
    with caplog.at_level(logging.INFO, logger="campusctl.sim"):
        assert not light.command("z/light/set", b"{not json")
        assert not light.command("z/light/set", b"\xff\xfe")
        assert not light.command("z/light/set", b"[1, 2]")
        assert light.command("z/light/set", b'{"state":"ON","colour":"red"}')
        assert not light.command("z/light/set", b'{"brightness":"much"}')
    text = caplog.text
    assert "z/light/set" in text
    assert "{not json" in text
    assert "colour" in text
    assert light.values() == {"lights": 100.0}
