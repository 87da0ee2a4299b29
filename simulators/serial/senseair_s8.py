"""A simulated Senseair S8 on Modbus RTU (answers its own address and 0xFE, "any").

As the real sensor: a read of registers it does not have gets exception 02, an unknown function
exception 01, a write of a bad value exception 03; writes are echoed. A background calibration
(0x7C06 to holding register 1) makes what it measures now read 400 ppm and sets bit 0x20 of the
acknowledgement register. `meter_status` can be set to report sensor errors.
"""

from __future__ import annotations

from campus.model import SerialProtocol
from drivers.serial.protocols import modbus
from drivers.serial.protocols import senseair_s8 as s8
from drivers.serial.protocols.framing import BadData, StreamParser
from simulators.serial.device import DeviceBase, Faults, ValueSource, flip

FRESH_AIR = 400.0
OWN_ADDRESS = 0x68
"""The S8's factory Modbus address."""
FIRMWARE = 0x0103
SENSOR_ID = 0x0123_4567
MEASURING_RANGE = 10000


class SenseairS8Device(DeviceBase):
    protocol = SerialProtocol.SENSEAIR_S8
    tick_interval: float | None = None

    def __init__(
        self, source: ValueSource, faults: Faults | None = None, *, address: int = OWN_ADDRESS
    ) -> None:
        super().__init__(source, faults)
        self.address = address
        self.meter_status = 0
        self.acknowledgement = 0
        self.abc_hours = s8.DEFAULT_ABC_HOURS
        self.offset = 0.0
        self.requests: list[modbus.Request] = []
        self._parser = StreamParser(modbus.RequestFramer(frozenset({address, s8.ANY_ADDRESS})))

    def receive(self, data: bytes) -> bytes:
        out = b""
        for item in self._parser.feed(data):
            if not isinstance(item, BadData):
                self.requests.append(item)
                out += self.emit(self._answer(item))
        return out

    def tick(self, now: float) -> bytes:
        return b""

    def corrupt(self, frame: bytes) -> bytes:
        return flip(frame, len(frame) - 1)

    def co2(self) -> int:
        measured = self.value("co2", FRESH_AIR) + self.offset
        return max(0, min(MEASURING_RANGE, round(measured)))

    def _answer(self, request: modbus.Request) -> bytes:
        address, function = request.address, request.function
        if function == modbus.READ_INPUT:
            registers = self._input_registers()
        elif function == modbus.READ_HOLDING:
            registers = {
                s8.ACKNOWLEDGEMENT: self.acknowledgement,
                s8.SPECIAL_COMMAND: 0,
                s8.ABC_PERIOD: self.abc_hours,
            }
        elif function == modbus.WRITE_SINGLE:
            return self._write(request)
        else:
            return modbus.exception_reply(address, function, 1)
        start, count = request.register, request.value
        if not 1 <= count <= 8:
            return modbus.exception_reply(address, function, 3)
        wanted = range(start, start + count)
        if any(r not in registers for r in wanted):
            return modbus.exception_reply(address, function, 2)
        return modbus.registers_reply(address, function, [registers[r] for r in wanted])

    def _input_registers(self) -> dict[int, int]:
        return {
            s8.METER_STATUS: self.meter_status,
            s8.ALARM_STATUS: 0,
            s8.OUTPUT_STATUS: 0,
            s8.CO2: self.co2(),
            s8.FIRMWARE: FIRMWARE,
            s8.SENSOR_ID_HIGH: SENSOR_ID >> 16,
            s8.SENSOR_ID_LOW: SENSOR_ID & 0xFFFF,
        }

    def _write(self, request: modbus.Request) -> bytes:
        register, value = request.register, request.value
        echo = modbus.write_register(request.address, register, value)
        if register == s8.ACKNOWLEDGEMENT:
            self.acknowledgement = value
        elif register == s8.SPECIAL_COMMAND:
            if value == s8.BACKGROUND_CALIBRATION:
                self.offset = FRESH_AIR - self.value("co2", FRESH_AIR)
                self.acknowledgement |= s8.ACK_BACKGROUND_CALIBRATION
            elif value == s8.ZERO_CALIBRATION:
                self.offset = -self.value("co2", FRESH_AIR)
                self.acknowledgement |= s8.ACK_ZERO_CALIBRATION
            else:
                return modbus.exception_reply(request.address, request.function, 3)
        elif register == s8.ABC_PERIOD:
            self.abc_hours = value
        else:
            return modbus.exception_reply(request.address, request.function, 2)
        return echo
