"""The domain mapping and the settings, without a server (pure functions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from campus.model import HA_ACTUATOR_DOMAINS, ActuatorSpec, ActuatorType, HaBinding, PointSpec
from campus.model import ValueType as VT
from campus.problems import DriverError
from drivers.homeassistant import (
    HaSettings,
    ServiceCall,
    Unusable,
    decode_actuator,
    decode_point,
    encode_command,
)


def state(value: str, **attributes: Any) -> dict[str, Any]:
    return {"entity_id": "x.y", "state": value, "attributes": attributes}


def point(unit: str = "", kind: VT = VT.NUMBER) -> PointSpec:
    return PointSpec("b1.r1.p", "p", "b1.r1", type=kind, unit=unit)


def actuator(kind: ActuatorType = ActuatorType.LEVEL) -> ActuatorSpec:
    default = False if kind is ActuatorType.SWITCH else 0.0
    return ActuatorSpec("b1.r1.a", "a", "b1.r1", kind, default)


@pytest.mark.parametrize(
    ("raw", "unit", "wanted", "expected"),
    [
        ("412", "ppm", "ppm", 412.0),
        ("68", "°F", "°C", 20.0),
        ("294.15", "K", "°C", 21.0),
        ("300", "lux", "lx", 300.0),
        ("12", "µg/m³", "", 12.0),
        ("12", "", "ppm", 12.0),
    ],
)
def test_numeric_states_are_read_in_the_points_unit(
    raw: str, unit: str, wanted: str, expected: float
) -> None:
    decoded = decode_point(
        point(wanted), HaBinding("sensor.x"), state(raw, unit_of_measurement=unit)
    )
    assert decoded == pytest.approx(expected)


def test_units_that_cannot_be_matched_say_what_to_fix() -> None:
    decoded = decode_point(
        point("dBA"), HaBinding("sensor.x"), state("41", unit_of_measurement="dB")
    )
    assert isinstance(decoded, Unusable)
    assert decoded.reason is not None
    assert "'dB'" in decoded.reason
    assert "'dBA'" in decoded.reason


@pytest.mark.parametrize("raw", ["unavailable", "unknown"])
def test_unavailable_and_unknown_give_no_value_and_no_complaint(raw: str) -> None:
    assert decode_point(point(), HaBinding("sensor.x"), state(raw)) == Unusable()
    assert decode_actuator(actuator(), HaBinding("light.x"), state(raw)) == Unusable()


def test_bad_states_and_attributes() -> None:
    assert isinstance(decode_point(point(), HaBinding("sensor.x"), state("high")), Unusable)
    assert isinstance(decode_point(point(), HaBinding("sensor.x"), state("nan")), Unusable)
    flag = point(kind=VT.BOOL)
    assert decode_point(flag, HaBinding("binary_sensor.x"), state("on")) is True
    assert decode_point(flag, HaBinding("binary_sensor.x"), state("off")) is False
    assert isinstance(decode_point(flag, HaBinding("binary_sensor.x"), state("maybe")), Unusable)
    climate = HaBinding("climate.x", attribute="current_temperature")
    assert decode_point(point("°C"), climate, state("heat", current_temperature=21.5)) == 21.5
    assert isinstance(decode_point(point(), climate, state("heat")), Unusable)


@pytest.mark.parametrize(
    ("entity", "kind", "raw", "attributes", "expected"),
    [
        ("light.x", ActuatorType.SWITCH, "on", {}, True),
        ("light.x", ActuatorType.LEVEL, "on", {"brightness": 102}, 40.0),
        ("light.x", ActuatorType.LEVEL, "on", {}, 100.0),
        ("light.x", ActuatorType.LEVEL, "off", {"brightness": None}, 0.0),
        ("switch.x", ActuatorType.SWITCH, "off", {}, False),
        ("input_boolean.x", ActuatorType.SWITCH, "on", {}, True),
        ("fan.x", ActuatorType.LEVEL, "on", {"percentage": 66}, 66.0),
        ("fan.x", ActuatorType.LEVEL, "off", {"percentage": 66}, 0.0),
        ("fan.x", ActuatorType.SWITCH, "on", {}, True),
        ("cover.x", ActuatorType.LEVEL, "open", {"current_position": 30}, 30.0),
        ("cover.x", ActuatorType.LEVEL, "closed", {}, 0.0),
        ("cover.x", ActuatorType.SWITCH, "open", {}, True),
        ("cover.x", ActuatorType.SWITCH, "opening", {}, None),
        ("climate.x", ActuatorType.LEVEL, "heat", {"temperature": 21.5}, 21.5),
        ("climate.x", ActuatorType.SWITCH, "off", {}, False),
        ("climate.x", ActuatorType.SWITCH, "cool", {}, True),
        ("input_number.x", ActuatorType.LEVEL, "12.5", {}, 12.5),
    ],
)
def test_reported_actuator_states(
    entity: str, kind: ActuatorType, raw: str, attributes: dict[str, Any], expected: object
) -> None:
    assert decode_actuator(actuator(kind), HaBinding(entity), state(raw, **attributes)) == expected


@pytest.mark.parametrize(
    ("entity", "kind", "value", "expected"),
    [
        ("light.x", ActuatorType.SWITCH, True, ServiceCall("light", "turn_on")),
        (
            "light.x",
            ActuatorType.LEVEL,
            40.0,
            ServiceCall("light", "turn_on", {"brightness_pct": 40.0}),
        ),
        ("light.x", ActuatorType.LEVEL, 0.0, ServiceCall("light", "turn_off")),
        ("switch.x", ActuatorType.SWITCH, False, ServiceCall("switch", "turn_off")),
        ("input_boolean.x", ActuatorType.SWITCH, True, ServiceCall("input_boolean", "turn_on")),
        (
            "fan.x",
            ActuatorType.LEVEL,
            66.6,
            ServiceCall("fan", "set_percentage", {"percentage": 67}),
        ),
        ("fan.x", ActuatorType.SWITCH, True, ServiceCall("fan", "turn_on")),
        (
            "cover.x",
            ActuatorType.LEVEL,
            30.0,
            ServiceCall("cover", "set_cover_position", {"position": 30}),
        ),
        ("cover.x", ActuatorType.SWITCH, False, ServiceCall("cover", "close_cover")),
        (
            "climate.x",
            ActuatorType.LEVEL,
            21.5,
            ServiceCall("climate", "set_temperature", {"temperature": 21.5}),
        ),
        ("climate.x", ActuatorType.SWITCH, False, ServiceCall("climate", "turn_off")),
        (
            "input_number.x",
            ActuatorType.LEVEL,
            3.0,
            ServiceCall("input_number", "set_value", {"value": 3.0}),
        ),
    ],
)
def test_commands_become_the_domains_service_call(
    entity: str, kind: ActuatorType, value: float | bool, expected: ServiceCall
) -> None:
    assert encode_command(actuator(kind), HaBinding(entity), value) == expected


def test_inverted_blinds_send_and_read_the_open_position() -> None:
    blinds = HaBinding("cover.x", invert=True)
    call = encode_command(actuator(), blinds, 25.0)
    assert call == ServiceCall("cover", "set_cover_position", {"position": 75})
    assert decode_actuator(actuator(), blinds, state("open", current_position=75)) == 25.0


def test_every_domain_campus_yaml_accepts_has_a_service_for_each_type() -> None:
    for domain, kinds in HA_ACTUATOR_DOMAINS.items():
        for kind in kinds:
            value: float | bool = True if kind is ActuatorType.SWITCH else 50.0
            assert encode_command(actuator(kind), HaBinding(f"{domain}.x"), value).domain == domain


def test_values_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(DriverError, match="switch"):
        encode_command(actuator(ActuatorType.SWITCH), HaBinding("light.x"), 50.0)
    with pytest.raises(DriverError, match="level"):
        encode_command(actuator(), HaBinding("light.x"), True)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8123", "ws://127.0.0.1:8123/api/websocket"),
        ("https://ha.example.org/", "wss://ha.example.org/api/websocket"),
        ("http://host:8123/api", "ws://host:8123/api/websocket"),
        ("ws://host:8123/api/websocket", "ws://host:8123/api/websocket"),
    ],
)
def test_websocket_url(url: str, expected: str) -> None:
    assert HaSettings(url, token_env="T").websocket_url() == expected


def test_token_sources_say_what_to_do_and_never_show_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAMPUSCTL_TEST_TOKEN", raising=False)
    settings = HaSettings("http://127.0.0.1:8123", token_env="CAMPUSCTL_TEST_TOKEN")
    with pytest.raises(DriverError, match="environment variable CAMPUSCTL_TEST_TOKEN"):
        settings.read_token()
    monkeypatch.setenv("CAMPUSCTL_TEST_TOKEN", " secret-1 \n")
    assert settings.read_token() == "secret-1"
    missing = HaSettings("http://127.0.0.1:8123", token_file=str(tmp_path / "nope"))
    with pytest.raises(DriverError, match="long-lived token"):
        missing.read_token()
    (tmp_path / "token").write_text("secret-2\n")
    from_file = HaSettings("http://127.0.0.1:8123", token_file=str(tmp_path / "token"))
    assert from_file.read_token() == "secret-2"
    assert "secret" not in repr(from_file)
    with pytest.raises(DriverError, match="exactly one"):
        HaSettings("http://127.0.0.1:8123")
    with pytest.raises(DriverError, match="http://host:8123"):
        HaSettings("127.0.0.1:8123", token_env="T")
