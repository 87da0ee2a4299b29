"""What the driver and `campusctl serial` do with each protocol: how to ask, what comes back.

A `Sensor` wraps one protocol's codec for one port: the parser that finds its frames, the
requests to send once after opening and at every poll, which frame answers a request, and how a
frame becomes named values (the fields a point's ``serial: {field: ...}`` names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from campus.model import SerialPort, SerialProtocol
from drivers.serial.protocols import ascii, mhz19b, modbus, sds011, senseair_s8
from drivers.serial.protocols.framing import StreamParser

UNITS = {
    "co2": "ppm",
    "temperature": "°C",
    "pm2_5": "µg/m³",
    "pm10": "µg/m³",
    "illuminance": "lx",
    "humidity": "%",
}
"""Units of the fields the sensors give (and of the standard point names boards may use)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one frame meant."""

    values: dict[str, float] = field(default_factory=dict)
    problem: str | None = None
    """Something the device reported that someone should read (an error status, say)."""


class Sensor(Protocol):
    protocol: SerialProtocol

    def parser(self) -> StreamParser[Any]: ...

    def setup(self) -> list[bytes]:
        """Requests to send once after the port opens (each waits for its answer)."""
        ...

    def poll(self) -> bytes | None:
        """The request to send every poll interval; None for a streaming device."""
        ...

    def answers(self, request: bytes, frame: Any) -> bool:
        """Whether `frame` is the reply `request` waits for."""
        ...

    def outcome(self, frame: Any) -> Outcome: ...


def sensor_for(port: SerialPort) -> Sensor:
    """The sensor speaking `port.protocol`, set up from the port's options."""
    match port.protocol:
        case SerialProtocol.MHZ19B:
            return Mhz19b()
        case SerialProtocol.SDS011:
            return Sds011(query=port.poll_interval is not None)
        case SerialProtocol.SENSEAIR_S8:
            return SenseairS8(port.address)
        case SerialProtocol.ASCII:
            return AsciiBoard(port.keys)


class Mhz19b:
    protocol = SerialProtocol.MHZ19B

    def parser(self) -> StreamParser[mhz19b.Reply]:
        return StreamParser(mhz19b.ReplyFramer())

    def setup(self) -> list[bytes]:
        return []

    def poll(self) -> bytes:
        return mhz19b.read_request()

    def answers(self, request: bytes, frame: mhz19b.Reply) -> bool:
        return frame.command == request[2]

    def outcome(self, frame: mhz19b.Reply) -> Outcome:
        if frame.command != mhz19b.READ:
            return Outcome()
        reading = mhz19b.reading_of(frame)
        return Outcome({"co2": float(reading.co2), "temperature": float(reading.temperature)})


class Sds011:
    """Streams (active mode) by default; with a poll interval, query mode: a frame per query.
    Opening wakes the sensor and sets the mode, so a sensor left asleep or in the other mode
    by an earlier program still reports."""

    protocol = SerialProtocol.SDS011

    def __init__(self, query: bool) -> None:
        self.query = query

    def parser(self) -> StreamParser[sds011.Measurement | sds011.Reply]:
        return StreamParser(sds011.FrameFramer())

    def setup(self) -> list[bytes]:
        return [sds011.sleep_request(False), sds011.reporting_mode_request(self.query)]

    def poll(self) -> bytes | None:
        return sds011.query_request() if self.query else None

    def answers(self, request: bytes, frame: sds011.Measurement | sds011.Reply) -> bool:
        if request[2] == sds011.QUERY:
            return isinstance(frame, sds011.Measurement)
        return isinstance(frame, sds011.Reply) and frame.command == request[2]

    def outcome(self, frame: sds011.Measurement | sds011.Reply) -> Outcome:
        if isinstance(frame, sds011.Reply):
            return Outcome()
        return Outcome({"pm2_5": frame.pm2_5, "pm10": frame.pm10})


class SenseairS8:
    """Reads MeterStatus and CO2 in one request; a CO2 value under a fatal error is dropped."""

    protocol = SerialProtocol.SENSEAIR_S8

    def __init__(self, address: int) -> None:
        self.address = address

    def parser(self) -> StreamParser[modbus.Reply]:
        return StreamParser(modbus.ReplyFramer(self.address))

    def setup(self) -> list[bytes]:
        return []

    def poll(self) -> bytes:
        return senseair_s8.read_status_and_co2_request(self.address)

    def answers(self, request: bytes, frame: modbus.Reply) -> bool:
        if isinstance(frame, modbus.Written):
            return request[1] == modbus.WRITE_SINGLE
        return frame.function == request[1]

    def outcome(self, frame: modbus.Reply) -> Outcome:
        if isinstance(frame, modbus.ExceptionReply):
            return Outcome(
                problem=f"the sensor answered exception {frame.code:02X} ({frame.meaning}) "
                f"to function {frame.function:02X}"
            )
        if not isinstance(frame, modbus.Registers) or len(frame.values) != 4:
            return Outcome()
        measured = senseair_s8.measurement(frame)
        values = {"status": float(measured.status)}
        problem = None
        if measured.status:
            status = senseair_s8.describe_status(measured.status)
            problem = f"meter status 0x{measured.status:04X} ({status})"
        if measured.trusted:
            values["co2"] = float(measured.co2)
        else:
            problem = f"{problem}: CO2 value {measured.co2} not used"
        return Outcome(values, problem)


class AsciiBoard:
    """Lines of ``key=value``; keys are renamed through the port's key map. A key the map lacks
    is reported once, then ignored."""

    protocol = SerialProtocol.ASCII

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys
        self._unmapped: set[str] = set()

    def parser(self) -> StreamParser[ascii.Line]:
        return StreamParser(ascii.LineFramer())

    def setup(self) -> list[bytes]:
        return []

    def poll(self) -> None:
        return None

    def answers(self, request: bytes, frame: ascii.Line) -> bool:
        return False

    def outcome(self, frame: ascii.Line) -> Outcome:
        values, unmapped = ascii.rename(frame, self.keys)
        new = [key for key in unmapped if key not in self._unmapped]
        self._unmapped.update(new)
        problem = None
        if new:
            problem = f"keys not in the port's key map, ignored: {', '.join(new)}"
        return Outcome(values, problem)
