"""campus.yaml's serial: ports and points' serial: bindings, and their errors with positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from campus.config import load_campus
from campus.model import SERIAL_FIELDS, Campus, SerialBinding, SerialPort, SerialProtocol
from campus.problems import ConfigError
from drivers.serial.protocols import ascii
from drivers.serial.sensors import Sensor, sensor_for

CAMPUS = """\
site: {{id: test, name: Test School, timezone: Europe/Oslo}}
serial:
{ports}
kinds:
  classroom:
    points:
{points}
    actuators:
      ventilation:
        type: level
        default: 0
        mqtt: {{topic: "zigbee2mqtt/{{building}}-{{room}}-fan", key: percentage}}
buildings:
  - id: main
    rooms:
      - {{id: r101..r102, kind: classroom}}
"""

PORTS = """\
  main-r101-co2: {device: /dev/ttyUSB0, protocol: mhz19b, poll_interval: 10s}
  main-r102-co2: {device: "rfc2217://10.0.0.5:4001", protocol: senseair-s8, address: 104}
  main-r101-pm: {device: /dev/ttyUSB1, protocol: sds011}
  main-r102-pm: {device: /dev/ttyUSB2, protocol: sds011, poll_interval: 1m}
  main-r101-board:
    device: /dev/serial/by-id/usb-arduino-if00
    protocol: ascii
    baud: 115200
    keys: {lux: illuminance, occ: occupancy}
  main-r102-board:
    {device: /dev/ttyACM1, protocol: ascii, keys: {lux: illuminance, occ: occupancy}}"""

POINTS = """\
      co2: {unit: ppm, stale_after: 2m, serial: {port: "{building}-{room}-co2"}}
      pm2_5: {unit: µg/m³, serial: {port: "{building}-{room}-pm"}}
      pm10_coarse: {serial: {port: "{building}-{room}-pm", field: pm10}}
      illuminance: {unit: lx, serial: {port: "{building}-{room}-board"}}
      occupancy: {type: bool, serial: {port: "{building}-{room}-board"}}"""


def load(tmp_path: Path, ports: str = PORTS, points: str = POINTS) -> Campus:
    path = tmp_path / "campus.yaml"
    path.write_text(CAMPUS.format(ports=ports, points=points))
    return load_campus(path)


def problems(tmp_path: Path, ports: str = PORTS, points: str = POINTS) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, ports, points)
    return [str(p) for p in info.value.problems]


def test_ports_and_bindings_resolve(tmp_path: Path) -> None:
    campus = load(tmp_path)
    assert campus.serial_ports["main-r101-co2"] == SerialPort(
        "main-r101-co2", "/dev/ttyUSB0", SerialProtocol.MHZ19B, poll_interval=10.0
    )
    s8 = campus.serial_ports["main-r102-co2"]
    assert (s8.protocol, s8.address, s8.poll_interval) == (SerialProtocol.SENSEAIR_S8, 104, 5.0)
    pm = campus.serial_ports
    assert pm["main-r101-pm"].poll_interval is None, "an SDS011 streams unless polled"
    assert pm["main-r102-pm"].poll_interval == 60.0
    board = pm["main-r101-board"]
    assert (board.baud, board.keys) == (115200, {"lux": "illuminance", "occ": "occupancy"})
    room = campus.room("main.r102")
    assert room.points["co2"].serial == SerialBinding("main-r102-co2", "co2")
    assert room.points["pm10_coarse"].serial == SerialBinding("main-r102-pm", "pm10")
    assert room.points["occupancy"].serial == SerialBinding("main-r102-board", "occupancy")
    assert room.points["co2"].mqtt is None


def test_an_undeclared_port_names_the_room_and_the_ports(tmp_path: Path) -> None:
    ports = PORTS.replace("main-r102-co2:", "main-r102-c02:")
    found = problems(tmp_path, ports)
    assert len(found) == 1
    assert "campus.yaml:17:56: " in found[0]  # the port: value in the kind
    assert "point 'co2' of main.r102: no serial port 'main-r102-co2' under serial:" in found[0]
    assert "did you mean 'main-r102-c02'" in found[0]


def test_a_field_the_protocol_does_not_give(tmp_path: Path) -> None:
    points = POINTS.replace("field: pm10", "field: pm1")
    found = problems(tmp_path, points=points)
    assert any(
        "sds011 port 'main-r101-pm' has no value 'pm1'; it gives pm2_5, pm10" in p for p in found
    )


def test_an_ascii_port_with_a_key_map_gives_only_its_fields(tmp_path: Path) -> None:
    points = POINTS + '\n      temperature: {serial: {port: "{building}-{room}-board"}}'
    found = problems(tmp_path, points=points)
    assert any("has no value 'temperature'; it gives illuminance, occupancy" in p for p in found)


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("{device: /dev/x, protocol: ascii, poll_interval: 5s}", "remove poll_interval"),
        ("{device: /dev/x, protocol: mhz19b, address: 5}", "address is for senseair-s8"),
        ("{device: /dev/x, protocol: senseair-s8, address: 300}", "Modbus address 300"),
        ("{device: /dev/x, protocol: mhz19b, keys: {a: b}}", "keys is for ascii"),
        ("{device: /dev/x, protocol: ascii, keys: {'a b': c}}", "board key 'a b'"),
        ("{device: /dev/x, protocol: mhz19b, baud: 0}", "baud must be positive"),
        ("{device: /dev/x, protocol: mhz19b, timeout: 0}", "timeout must be positive"),
        ("{device: '', protocol: mhz19b}", "device is empty"),
        ("{device: /dev/x, protocol: mh-z19}", "must be one of mhz19b"),
    ],
)
def test_port_options_that_do_not_fit(tmp_path: Path, port: str, message: str) -> None:
    found = problems(tmp_path, f"  extra: {port}\n" + PORTS)
    assert any(message in p for p in found), found


def test_a_point_cannot_have_two_sources(tmp_path: Path) -> None:
    points = POINTS.replace(
        'co2: {unit: ppm, stale_after: 2m, serial: {port: "{building}-{room}-co2"}}',
        'co2: {serial: {port: "{building}-{room}-co2"}, mqtt: {topic: "z/{room}"}}',
    )
    found = problems(tmp_path, points=points)
    assert any("point 'co2' of main.r101 has both mqtt: and serial:; keep one" in p for p in found)


def test_the_model_and_the_codecs_agree_on_the_fields() -> None:
    """campus/ cannot import the drivers, so the protocol fields are written twice."""
    for protocol, fields in SERIAL_FIELDS.items():
        if protocol is SerialProtocol.ASCII:
            continue
        port = SerialPort("p", "/dev/null", protocol, poll_interval=1.0)
        sensor = sensor_for(port)
        assert sensor.protocol is protocol
        assert set(fields) >= set(_fields_of(sensor)), protocol


def _fields_of(sensor: Sensor) -> set[str]:
    from drivers.serial.protocols import mhz19b, modbus, sds011

    frames = {
        SerialProtocol.MHZ19B: mhz19b.Reply(mhz19b.READ, bytes(6)),
        SerialProtocol.SDS011: sds011.Measurement(1.0, 2.0, 1),
        SerialProtocol.SENSEAIR_S8: modbus.Registers(0xFE, 4, (0, 0, 0, 500)),
        SerialProtocol.ASCII: ascii.Line({}),
    }
    outcome = sensor.outcome(frames[sensor.protocol])
    return set(outcome.values)
