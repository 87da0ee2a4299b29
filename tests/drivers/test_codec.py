"""The payload codec against real Zigbee2MQTT 2.x payload samples and the command contract."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from campus.model import ActuatorSpec, ActuatorType, MqttBinding, PointSpec
from campus.problems import DriverError
from campus.types import Quality, Reading
from drivers.mqtt.codec import (
    decode,
    decode_availability,
    decode_state,
    encode_command,
    point_target,
    sensor_readings,
)
from drivers.mqtt.errors import Fault, PayloadError, show_payload
from drivers.mqtt.routes import sensor_keys
from tests.drivers.sample_campus import device_topic, make_campus, multisensor_topic

CAMPUS = make_campus("t")
POINTS = CAMPUS.points()
ACTUATORS = CAMPUS.actuators()
SENSOR = multisensor_topic("t")
TARGETS = [point_target(p) for p in POINTS.values() if p.room == "b1.r101"]

# Captured from Zigbee2MQTT 2.x installations (device models in the names).
AQARA_LIKE_MULTISENSOR = (
    b'{"battery":97,"co2":645,"device_temperature":25,"humidity":41.2,"illuminance":312,'
    b'"linkquality":120,"occupancy":true,"temperature":21.4,"voltage":3005,'
    b'"update":{"installed_version":-1,"latest_version":-1,"state":null}}'
)
HUE_MOTION_SML001 = (
    b'{"battery":100,"illuminance":24,"led_indication":false,"linkquality":143,'
    b'"motion_sensitivity":"medium","occupancy":false,"occupancy_timeout":0,'
    b'"temperature":20.1,"update":{"state":"idle"}}'
)
TUYA_AIR_BOX_TS0601 = (
    b'{"co2":812,"formaldehyd":3,"humidity":44.6,"linkquality":87,"temperature":22.8,"voc":12}'
)
AQARA_RTCGQ11LM_AFTER_RESTART = (
    b'{"battery":null,"device_temperature":null,"illuminance":13,"linkquality":72,'
    b'"occupancy":true,"power_outage_count":3,"voltage":null}'
)


def values(payload: bytes) -> dict[str, object]:
    decoded = decode_state(SENSOR, payload, TARGETS)
    assert not decoded.errors, decoded.errors
    return {target.id: value for target, value in decoded.values}


def test_full_multisensor_message_gives_every_point_and_ignores_extra_keys() -> None:
    assert values(AQARA_LIKE_MULTISENSOR) == {
        "b1.r101.occupancy": True,
        "b1.r101.illuminance": 312.0,
        "b1.r101.co2": 645.0,
        "b1.r101.temperature": 21.4,
        "b1.r101.humidity": 41.2,
    }


def test_numbers_are_floats_and_bools_are_bools() -> None:
    got = values(AQARA_LIKE_MULTISENSOR)
    assert type(got["b1.r101.co2"]) is float
    assert got["b1.r101.occupancy"] is True


@pytest.mark.parametrize(
    ("payload", "present"),
    [
        (HUE_MOTION_SML001, {"occupancy": False, "illuminance": 24.0, "temperature": 20.1}),
        (TUYA_AIR_BOX_TS0601, {"co2": 812.0, "humidity": 44.6, "temperature": 22.8}),
        (AQARA_RTCGQ11LM_AFTER_RESTART, {"occupancy": True, "illuminance": 13.0}),
        (b'{"occupancy":true,"co2":null}', {"occupancy": True}),
        (b"{}", {}),
    ],
)
def test_absent_or_null_keys_are_no_news(payload: bytes, present: dict[str, object]) -> None:
    decoded = decode_state(SENSOR, payload, TARGETS)
    assert not decoded.errors
    assert {t.id.split(".")[-1]: v for t, v in decoded.values} == present
    assert {t.key for t in decoded.missing} == {t.key for t in TARGETS} - set(present)


@pytest.mark.parametrize(
    ("payload", "point", "says"),
    [
        (b'{"co2":"abc","temperature":21}', "b1.r101.co2", 'expected a number, got "abc"'),
        (b'{"co2":"645","temperature":21}', "b1.r101.co2", 'got "645"'),
        (b'{"co2":true,"temperature":21}', "b1.r101.co2", "got true"),
        (b'{"co2":NaN,"temperature":21}', "b1.r101.co2", "got NaN"),
        (b'{"co2":[645],"temperature":21}', "b1.r101.co2", "got [645]"),
        (b'{"co2":' + b"9" * 400 + b',"temperature":21}', "b1.r101.co2", "got 99999"),
        (b'{"occupancy":3,"temperature":21}', "b1.r101.occupancy", "got 3"),
        (b'{"occupancy":"maybe","temperature":21}', "b1.r101.occupancy", 'got "maybe"'),
    ],
)
def test_wrong_type_rejects_that_point_only(payload: bytes, point: str, says: str) -> None:
    decoded = decode_state(SENSOR, payload, TARGETS)
    [error] = decoded.errors
    assert error.fault is Fault.WRONG_TYPE
    assert error.target == point
    assert says in error.detail
    assert error.topic == SENSOR
    assert SENSOR in str(error)
    assert payload.decode()[:20] in str(error)
    assert [(t.id, v) for t, v in decoded.values] == [("b1.r101.temperature", 21.0)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b"true", True), (b"false", False), (b"1", True), (b"0", False), (b'"ON"', True)],
)
def test_z2m_bools_accept_json_bools_0_1_and_on_off(raw: bytes, expected: bool) -> None:
    assert values(b'{"occupancy":' + raw + b"}") == {"b1.r101.occupancy": expected}


def test_implausible_value_is_rejected_with_the_range() -> None:
    decoded = decode_state(SENSOR, b'{"co2":99999,"humidity":40}', TARGETS)
    [error] = decoded.errors
    assert error.fault is Fault.IMPLAUSIBLE
    assert "99999" in error.detail
    assert "250..10000" in error.detail
    assert [t.id for t, _ in decoded.values] == ["b1.r101.humidity"]


@pytest.mark.parametrize(
    ("payload", "fault"),
    [
        (b"not json", Fault.NOT_JSON),
        (b'{"co2":6', Fault.NOT_JSON),
        (b"\xff\xfe\x00garbage", Fault.NOT_JSON),
        (b"[1,2,3]", Fault.NOT_OBJECT),
        (b"645", Fault.NOT_OBJECT),
        (b'"online"', Fault.NOT_OBJECT),
    ],
)
def test_whole_message_faults(payload: bytes, fault: Fault) -> None:
    decoded = decode_state(SENSOR, payload, TARGETS)
    assert not decoded.parsed
    assert not decoded.values
    assert not decoded.missing
    [error] = decoded.errors
    assert error.fault is fault
    assert error.target is None


def test_deeply_nested_json_is_not_json_not_a_crash() -> None:
    decoded = decode_state(SENSOR, b"[" * 100_000, TARGETS)
    assert decoded.errors[0].fault is Fault.NOT_JSON


def test_errors_carry_at_most_200_bytes_of_the_payload() -> None:
    payload = b'{"co2":"' + b"x" * 5000 + b'"}'
    [error] = decode_state(SENSOR, payload, TARGETS).errors
    assert len(error.payload) == 200
    assert error.size == len(payload)
    assert len(str(error)) < 400
    assert "(5010 bytes)" in str(error)
    assert show_payload(b"ab\x00\xff") == "'ab\\x00\\\\xff'"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(b"412", 412.0), (b" 521.5\n", 521.5), (b"1e3", 1000.0)],
)
def test_plain_numbers(payload: bytes, expected: float) -> None:
    assert decode(POINTS["b1.r102.co2"], payload) == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"true", True),
        (b"false", False),
        (b"ON", True),
        (b"off", False),
        (b"1", True),
        (b"0\n", False),
    ],
)
def test_plain_bools(payload: bytes, expected: bool) -> None:
    assert decode(POINTS["b1.r102.occupancy"], payload) is expected


@pytest.mark.parametrize(
    ("point", "payload", "fault"),
    [
        ("b1.r102.co2", b"abc", Fault.WRONG_TYPE),
        ("b1.r102.co2", b"nan", Fault.WRONG_TYPE),
        ("b1.r102.co2", b"", Fault.WRONG_TYPE),
        ("b1.r102.co2", b"\xff", Fault.WRONG_TYPE),
        ("b1.r102.co2", b"-5", Fault.IMPLAUSIBLE),
        ("b1.r102.occupancy", b"2", Fault.WRONG_TYPE),
        ("b1.r102.occupancy", b"yes", Fault.WRONG_TYPE),
    ],
)
def test_bad_plain_payloads(point: str, payload: bytes, fault: Fault) -> None:
    with pytest.raises(PayloadError) as caught:
        decode(POINTS[point], payload)
    assert caught.value.fault is fault
    assert caught.value.target == point


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b'{"state":"online"}', True),
        (b'{"state":"offline"}', False),
        (b"online", True),
        (b"offline\n", False),
    ],
)
def test_availability(payload: bytes, online: bool) -> None:
    assert decode_availability("zigbee2mqtt/x/availability", payload) is online


@pytest.mark.parametrize("payload", [b'{"state":"gone"}', b"{}", b"[]", b"maybe", b"{bad"])
def test_bad_availability(payload: bytes) -> None:
    with pytest.raises(PayloadError) as caught:
        decode_availability("zigbee2mqtt/x/availability", payload)
    assert caught.value.fault is Fault.BAD_AVAILABILITY


@pytest.mark.parametrize(
    ("actuator", "payload", "expected"),
    [
        (
            "lights",
            b'{"brightness":254,"color_mode":"color_temp","color_temp":370,"state":"ON"}',
            True,
        ),
        ("lights", b'{"state":"OFF","linkquality":160}', False),
        ("dimmer", b'{"state":"ON","brightness":254}', 100.0),
        ("dimmer", b'{"state":"ON","brightness":127}', 50.0),
        ("dimmer", b'{"state":"OFF","brightness":254}', 0.0),
        ("dimmer", b'{"state":"OFF"}', 0.0),
        ("dimmer", b'{"linkquality":12}', None),
        ("fan", b'{"percentage":60,"fan_mode":"on"}', 60.0),
        ("fan", b'{"state":"OFF","percentage":100}', 0.0),
        ("blinds", b'{"position":30,"state":"OPEN","linkquality":98}', 70.0),
        (
            "thermostat",
            b'{"occupied_heating_setpoint":21,"local_temperature":20.5,"system_mode":"heat"}',
            21.0,
        ),
    ],
)
def test_reported_state_maps_back_to_actuator_values(
    actuator: str, payload: bytes, expected: object
) -> None:
    assert decode(ACTUATORS[f"b1.r101.{actuator}"], payload) == expected


def test_reported_state_of_a_plain_switch() -> None:
    assert decode(ACTUATORS["b1.r102.lights"], b"ON") is True


@pytest.mark.parametrize(
    ("actuator", "value", "topic", "payload"),
    [
        ("b1.r101.lights", True, device_topic("t", "lights") + "/set", b'{"state":"ON"}'),
        ("b1.r101.lights", False, device_topic("t", "lights") + "/set", b'{"state":"OFF"}'),
        ("b1.r101.dimmer", 50.0, device_topic("t", "dimmer") + "/set", b'{"brightness":127}'),
        ("b1.r101.dimmer", 100.0, device_topic("t", "dimmer") + "/set", b'{"brightness":254}'),
        ("b1.r101.dimmer", 0.2, device_topic("t", "dimmer") + "/set", b'{"brightness":1}'),
        ("b1.r101.fan", 60.0, device_topic("t", "fan") + "/set", b'{"percentage":60}'),
        ("b1.r101.blinds", 70.0, device_topic("t", "blinds") + "/set", b'{"position":30}'),
        (
            "b1.r101.thermostat",
            21.0,
            device_topic("t", "thermostat") + "/set",
            b'{"occupied_heating_setpoint":21}',
        ),
        (
            "b1.r101.thermostat",
            21.5,
            device_topic("t", "thermostat") + "/set",
            b'{"occupied_heating_setpoint":21.5}',
        ),
        ("b1.r102.lights", True, "t/b1/r102/lights/cmnd", b"ON"),
        ("b1.r102.lights", False, "t/b1/r102/lights/cmnd", b"OFF"),
    ],
)
def test_encode_command(actuator: str, value: float | bool, topic: str, payload: bytes) -> None:
    assert encode_command(ACTUATORS[actuator], value) == (topic, payload)


@pytest.mark.parametrize(
    ("actuator", "value"),
    [
        ("b1.r101.lights", 1.0),
        ("b1.r101.fan", True),
        ("b1.r101.fan", 101.0),
        ("b1.r101.thermostat", 35.0),
    ],
)
def test_encode_refuses_values_the_actuator_cannot_take(actuator: str, value: object) -> None:
    with pytest.raises(DriverError, match=actuator):
        encode_command(ACTUATORS[actuator], value)  # type: ignore[arg-type]


@given(st.floats(min_value=0, max_value=100))
def test_level_round_trip_within_device_resolution(value: float) -> None:
    for name, resolution in (("dimmer", 100 / 254 / 2), ("blinds", 1e-6), ("fan", 1e-6)):
        spec = ACTUATORS[f"b1.r101.{name}"]
        _, payload = encode_command(spec, value)
        back = decode(spec, payload)
        assert isinstance(back, float)
        assert abs(back - value) <= resolution + 1e-9, (name, value, payload)


def test_bindings_that_cannot_work_are_refused() -> None:
    keyless = PointSpec(id="b1.r1.co2", name="co2", room="b1.r1", mqtt=MqttBinding("z/x"))
    with pytest.raises(DriverError, match="needs the JSON key"):
        point_target(keyless)
    keyless_fan = ActuatorSpec(
        id="b1.r1.fan",
        name="fan",
        room="b1.r1",
        type=ActuatorType.LEVEL,
        default=0.0,
        mqtt=MqttBinding("z/fan"),
    )
    with pytest.raises(DriverError, match="needs the JSON key to set"):
        encode_command(keyless_fan, 10.0)


SENSORS = sensor_keys(TARGETS)
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 249, 250, 10000, 10001, -40.0, 1e308, -0.0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["on", "OFF", "true", "1", "", "12"]),
    st.lists(st.integers(), max_size=2),
)
ABSENT = object()
FULL = {"occupancy": True, "illuminance": 120, "co2": 900, "temperature": 21.5, "humidity": 40}


def field_of(key: str) -> st.SearchStrategy[object]:
    """A key's value: mostly what a multisensor sends, sometimes anything, sometimes absent."""
    if key == "occupancy":
        usual: st.SearchStrategy[object] = st.booleans()
    else:
        low, high = next(t.range for t in TARGETS if t.key == key) or (0, 0)
        usual = st.integers(int(low), int(high)) | st.floats(low, high)
    return st.one_of(usual, usual, usual, ODD_VALUES, st.just(ABSENT))


@given(
    fields=st.fixed_dictionaries(
        {key: field_of(key) for key in ("occupancy", "illuminance", "co2", "temperature")}
        | {"humidity": field_of("humidity"), "battery": ODD_VALUES}
    ),
    raw=st.sampled_from([None] * 6 + [b"", b"[]", b"not json", b'{"co2":NaN}', b'{"co2":1e999}']),
)
@settings(max_examples=300)
@example(fields=dict(FULL, co2=249), raw=None)  # below its range
@example(fields=dict(FULL, humidity=100.5), raw=None)  # above
@example(fields=dict(FULL, occupancy=1), raw=None)  # Z2M's 0/1 for a boolean: the decoder's
@example(fields=dict(FULL, co2=True), raw=None)  # a boolean for a number
def test_the_multisensor_fast_read_gives_what_the_decoder_gives_or_leaves_it_to_it(
    fields: dict[str, object], raw: bytes | None
) -> None:
    """`sensor_readings` (every reading's path on a busy campus) either gives exactly the
    readings `decode_state` gives, with nothing missing and no error, or None (the decoder
    reads it: a missing key, a Z2M word or 0/1 for a boolean, a bad payload)."""
    present = {key: value for key, value in fields.items() if value is not ABSENT}
    payload = json.dumps(present).encode() if raw is None else raw
    fast = sensor_readings(SENSORS, payload, 5.0)
    decoded = decode_state(SENSOR, payload, TARGETS)
    if fast is not None:
        assert not decoded.errors
        assert not decoded.missing
        assert fast == [Reading(t.id, v, 5.0) for t, v in decoded.values]
        assert [type(r.value) for r in fast] == [type(v) for _, v in decoded.values]
        assert all(type(r) is Reading and r.quality is Quality.GOOD for r in fast)


def test_a_full_multisensor_message_is_read_at_once() -> None:
    fast = sensor_readings(SENSORS, AQARA_LIKE_MULTISENSOR, 5.0)
    assert fast is not None
    assert {r.point: r.value for r in fast} == values(AQARA_LIKE_MULTISENSOR)
    assert sensor_readings(SENSORS, AQARA_RTCGQ11LM_AFTER_RESTART, 5.0) is None  # keys missing
