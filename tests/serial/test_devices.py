"""The simulated devices answer as the real ones do (no pty: bytes in, bytes out)."""

from __future__ import annotations

import subprocess
import sys

from drivers.serial.protocols import ascii, mhz19b, modbus, sds011
from drivers.serial.protocols import senseair_s8 as s8
from simulators.serial.ascii_board import BOARD_KEYS, AsciiBoardDevice
from simulators.serial.device import Faults
from simulators.serial.mhz19b import Mhz19bDevice
from simulators.serial.sds011 import Sds011Device
from simulators.serial.senseair_s8 import SenseairS8Device
from tests.serial.support import Values


def room(**values: float) -> Values:
    return Values({"co2": 812.0, "temperature": 21.4, "pm2_5": 12.3, "pm10": 20.1} | values)


def test_mhz19b_answers_a_read_and_ignores_a_bad_checksum() -> None:
    device = Mhz19bDevice(room())
    assert device.receive(mhz19b.read_request()) == mhz19b.reading_reply(812, 21)
    assert device.receive(mhz19b.read_request()[:8] + b"\x00") == b""
    assert device.receive(b"\x00\x01" + mhz19b.read_request()[:4]) == b""
    assert device.receive(mhz19b.read_request()[4:]) == mhz19b.reading_reply(812, 21)


def test_mhz19b_zero_calibration_abc_and_range_get_no_reply() -> None:
    values = room(co2=450.0)
    device = Mhz19bDevice(values)
    assert device.receive(mhz19b.zero_request()) == b""
    assert mhz19b.decode_reading(device.receive(mhz19b.read_request())).co2 == 400
    values["co2"] = 2500.0
    assert device.receive(mhz19b.abc_request(False) + mhz19b.range_request(2000)) == b""
    assert (device.abc, device.range) == (False, 2000)
    assert mhz19b.decode_reading(device.receive(mhz19b.read_request())).co2 == 2000


def test_mhz19b_faults() -> None:
    faults = Faults(bad_checksum=True, noise=b"\x00\x07")
    device = Mhz19bDevice(room(), faults)
    answer = device.receive(mhz19b.read_request())
    assert answer[:2] == b"\x00\x07"
    assert answer[2:] != mhz19b.reading_reply(812, 21)
    faults.silent = True
    assert device.receive(mhz19b.read_request()) == b""


def test_sds011_streams_until_asked_for_query_mode() -> None:
    device = Sds011Device(room(), device_id=0xA160)
    frame = sds011.data_frame(12.3, 20.1, 0xA160)
    assert device.tick(0.0) == frame
    reply = device.receive(sds011.reporting_mode_request(query=True))
    assert reply == sds011.reply_frame(sds011.REPORTING_MODE, bytes([1, 1, 0]), 0xA160)
    assert device.tick(1.0) == b""
    assert device.receive(sds011.query_request()) == frame


def test_sds011_sleeps_answers_only_wake_and_keeps_its_period() -> None:
    device = Sds011Device(room(), device_id=0xA160)
    assert device.receive(sds011.sleep_request(True))[3:5] == bytes([1, 0])
    assert device.tick(0.0) == b""
    assert device.receive(sds011.query_request()) == b""
    assert device.receive(sds011.sleep_request(False))[3:5] == bytes([1, 1])
    device.receive(sds011.working_period_request(2))
    assert device.tick(10.0) != b""
    assert device.tick(70.0) == b"", "one frame every 2 minutes"
    assert device.tick(130.0) != b""


def test_sds011_ignores_commands_for_another_device() -> None:
    device = Sds011Device(room(), device_id=0xA160)
    assert device.receive(sds011.query_request(device=0x1234)) == b""
    assert device.receive(sds011.firmware_request(device=0xA160))[2] == sds011.FIRMWARE


def test_s8_reads_status_and_co2_and_refuses_what_it_lacks() -> None:
    device = SenseairS8Device(room())
    reply = modbus.decode_reply(device.receive(s8.read_status_and_co2_request()), 0xFE)
    assert s8.measurement(reply) == s8.Measurement(812, 0)
    own = device.receive(s8.read_co2_request(address=0x68))
    assert modbus.decode_reply(own, 0x68) == modbus.Registers(0x68, 4, (812,))
    unknown = device.receive(modbus.read_registers(0xFE, 4, 0x10, 1))
    assert modbus.decode_reply(unknown, 0xFE) == modbus.ExceptionReply(0xFE, 4, 2)
    odd = device.receive(modbus.write_register(0xFE, 0x05, 1))
    assert modbus.decode_reply(odd, 0xFE) == modbus.ExceptionReply(0xFE, 6, 2)
    assert device.receive(s8.read_co2_request(address=0x01)) == b"", "not its address"


def test_s8_background_calibration_and_abc() -> None:
    values = room(co2=430.0)
    device = SenseairS8Device(values)
    for request in (s8.clear_acknowledgement_request(), s8.calibration_request()):
        assert device.receive(request) == request, "writes are echoed"
    ack = modbus.decode_reply(device.receive(s8.read_acknowledgement_request()), 0xFE)
    assert ack == modbus.Registers(0xFE, 3, (s8.ACK_BACKGROUND_CALIBRATION,))
    reply = modbus.decode_reply(device.receive(s8.read_co2_request()), 0xFE)
    assert reply == modbus.Registers(0xFE, 4, (400,))
    assert device.receive(s8.abc_period_request(0)) == s8.abc_period_request(0)
    assert device.abc_hours == 0


def test_s8_error_status_and_bad_crc_fault() -> None:
    device = SenseairS8Device(room())
    device.meter_status = 0x01
    reply = modbus.decode_reply(device.receive(s8.read_status_and_co2_request()), 0xFE)
    assert not s8.measurement(reply).trusted
    device.faults.bad_checksum = True
    assert not modbus.crc_ok(device.receive(s8.read_co2_request()))


def test_ascii_board_prints_its_own_keys() -> None:
    device = AsciiBoardDevice(
        Values({"illuminance": 311.6, "occupancy": 1.0, "temperature": 21.44})
    )
    line = ascii.decode_line(device.tick(0.0))
    assert line == ascii.Line({"lux": 312.0, "occ": 1.0, "t": 21.4})
    assert set(BOARD_KEYS) == set(line.values)
    device.faults.bad_checksum = True
    assert b"*" in device.tick(1.0)
    device.with_checksum = True
    device.faults.bad_checksum = False
    assert ascii.decode_line(device.tick(2.0)) == line


def test_the_simulators_use_only_the_pure_codecs() -> None:
    """Simulators talk to the controller over the wire: no driver, controller or rules code."""
    probe = (
        "import sys, simulators.serial.options, simulators.cli;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('controller', 'rules', 'serial')"
        " or (m.startswith('drivers.') and not m.startswith('drivers.serial.protocols')"
        " and m != 'drivers.serial')];"
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
