"""Senseair S8 NDIR CO2 sensor over Modbus RTU: 9600 8N1, address 0xFE answers to any.

Sources: Senseair TDE2067 "Modbus on Senseair S8" (via cycbox.io), jcomas/S8_UART, docs/domain.md.
Input registers (0-based): 0 MeterStatus, 1 AlarmStatus, 2 OutputStatus, 3 CO2 ppm, 0x1C firmware,
0x1D/0x1E sensor id. Holding registers: 0 acknowledgement (0x20 = background calibration done),
1 special command (0x7C06 background calibration to 400 ppm, 0x7C07 zero calibration with
nitrogen), 0x1F ABC period in hours (0 = off; 180 h from the factory).

The driver reads registers 0..3 in one request (``FE 04 00 00 00 04 E5 C6``, as ESPHome and other
integrations do) so every CO2 value comes with the status that says whether to trust it.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.serial.protocols import modbus
from drivers.serial.protocols.framing import FrameError

ANY_ADDRESS = 0xFE

METER_STATUS = 0
ALARM_STATUS = 1
OUTPUT_STATUS = 2
CO2 = 3
FIRMWARE = 0x1C
SENSOR_ID_HIGH = 0x1D
SENSOR_ID_LOW = 0x1E

ACKNOWLEDGEMENT = 0
SPECIAL_COMMAND = 1
ABC_PERIOD = 0x1F

BACKGROUND_CALIBRATION = 0x7C06
ZERO_CALIBRATION = 0x7C07
ACK_BACKGROUND_CALIBRATION = 0x20
ACK_ZERO_CALIBRATION = 0x40
DEFAULT_ABC_HOURS = 180

FATAL = 0x01
STATUS_BITS = {
    0x01: "fatal error",
    0x02: "offset regulation error",
    0x04: "algorithm error",
    0x08: "output error",
    0x10: "self-diagnostics error",
    0x20: "out of range",
    0x40: "memory error",
}


@dataclass(frozen=True, slots=True)
class Measurement:
    co2: int
    """ppm."""
    status: int
    """MeterStatus bits (0: all well)."""

    @property
    def trusted(self) -> bool:
        """False when the sensor reports a fatal error: its CO2 value means nothing."""
        return not self.status & FATAL


def read_co2_request(address: int = ANY_ADDRESS) -> bytes:
    """``FE 04 00 03 00 01 D5 C5``: CO2 alone."""
    return modbus.read_registers(address, modbus.READ_INPUT, CO2, 1)


def read_status_and_co2_request(address: int = ANY_ADDRESS) -> bytes:
    """``FE 04 00 00 00 04 E5 C6``: MeterStatus, AlarmStatus, OutputStatus and CO2."""
    return modbus.read_registers(address, modbus.READ_INPUT, METER_STATUS, 4)


def abc_period_request(hours: int, address: int = ANY_ADDRESS) -> bytes:
    """``FE 06 00 1F 00 B4 AC 74`` for 180 h; 0 turns ABC off."""
    return modbus.write_register(address, ABC_PERIOD, hours)


def clear_acknowledgement_request(address: int = ANY_ADDRESS) -> bytes:
    """``FE 06 00 00 00 00 9D C5``: before a calibration, so its flag can be seen."""
    return modbus.write_register(address, ACKNOWLEDGEMENT, 0)


def calibration_request(address: int = ANY_ADDRESS) -> bytes:
    """``FE 06 00 01 7C 06 6C C7``: background calibration (fresh air is 400 ppm)."""
    return modbus.write_register(address, SPECIAL_COMMAND, BACKGROUND_CALIBRATION)


def read_acknowledgement_request(address: int = ANY_ADDRESS) -> bytes:
    return modbus.read_registers(address, modbus.READ_HOLDING, ACKNOWLEDGEMENT, 1)


def measurement(reply: modbus.Reply, frame: bytes = b"") -> Measurement:
    """The measurement in a reply to `read_status_and_co2_request` (or to `read_co2_request`,
    with status 0); raises FrameError for any other reply."""
    if isinstance(reply, modbus.ExceptionReply):
        raise FrameError(f"exception {reply.code:02X} ({reply.meaning})", frame)
    if not isinstance(reply, modbus.Registers) or reply.function != modbus.READ_INPUT:
        raise FrameError("not a reply to an input-register read", frame)
    if len(reply.values) == 4:
        return Measurement(reply.values[CO2], reply.values[METER_STATUS])
    if len(reply.values) == 1:
        return Measurement(reply.values[0], 0)
    raise FrameError(f"expected 1 or 4 registers, got {len(reply.values)}", frame)


def describe_status(status: int) -> str:
    """``"fatal error, out of range"``, or ``"ok"``."""
    words = [text for bit, text in STATUS_BITS.items() if status & bit]
    return ", ".join(words) if words else "ok"
