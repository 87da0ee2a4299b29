"""campus.yaml's ``serial:`` ports and the ``serial:`` binding of a point, and their checks.

Ports are physical: one line per sensor, named, at the top level. A kind's point names its port
with a pattern (``"{building}-{room}-co2"``), so every room of the kind finds its own sensor:

    serial:
      main-r101-co2: {device: /dev/ttyUSB0, protocol: mhz19b}
    kinds:
      classroom:
        points:
          co2: {unit: ppm, stale_after: 2m, serial: {port: "{building}-{room}-co2"}}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from campus.model import SERIAL_FIELDS, SerialBinding, SerialPort, SerialProtocol
from campus.problems import Position
from campus.yamlmodel import Duration, Located, did_you_mean

PORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
BOARD_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
DEFAULT_POLL_INTERVAL = 5.0
MODBUS_ADDRESSES = "1..247, or 254 (any sensor)"

ErrorSink = Callable[[Position | None, str], None]


@dataclass(frozen=True)
class SerialPortSection:
    """A serial line with one sensor or board on it (docs/serial.md)."""

    device: Located[str] = field(
        metadata={"doc": "/dev/ttyUSB0, /dev/serial/by-id/..., or a pyserial URL (rfc2217://...)"}
    )
    protocol: Literal["mhz19b", "sds011", "senseair-s8", "ascii"]
    baud: int = field(default=9600, metadata={"doc": "bits per second (the sensors use 9600)"})
    poll_interval: Duration | None = field(
        default=None,
        metadata={
            "doc": "mhz19b, senseair-s8: time between reads (default 5s); sds011: query mode "
            "with this interval instead of streaming"
        },
    )
    timeout: Duration = field(
        default=Duration(1.0), metadata={"doc": "how long to wait for a reply or a whole frame"}
    )
    address: int | None = field(
        default=None, metadata={"doc": "senseair-s8: Modbus address (default 254 = any)"}
    )
    keys: dict[str, str] = field(
        default_factory=dict,
        metadata={"doc": "ascii: board key -> field name, e.g. {lux: illuminance, occ: occupancy}"},
    )
    pos: Position | None = None


@dataclass(frozen=True)
class SerialBindingSection:
    """Which port under serial: feeds the point, and which of its values."""

    port: Located[str] = field(
        metadata={"doc": "a port name under serial:; {building}, {room}, {site}, {kind} filled in"}
    )
    field_name: Located[str] | None = field(
        default=None,
        metadata={
            "key": "field",
            "doc": "co2, temperature (mhz19b); pm2_5, pm10 (sds011); co2, status "
            "(senseair-s8); a key (ascii). Default: the point's name",
        },
    )


def resolve_ports(raw: dict[str, SerialPortSection], error: ErrorSink) -> dict[str, SerialPort]:
    """The declared ports, each checked for options that do not fit its protocol."""
    ports = {}
    for name, s in raw.items():
        where = f"serial port {name!r}"
        if not PORT_NAME.fullmatch(name):
            error(s.pos, f"{where}: a name of letters, digits, '-', '_' and '.'")
        if not s.device.value.strip():
            error(s.device.pos, f"{where}: device is empty")
        protocol = SerialProtocol(s.protocol)
        if s.baud <= 0:
            error(s.pos, f"{where}: baud must be positive, got {s.baud}")
        if s.timeout <= 0:
            error(s.pos, f"{where}: timeout must be positive")
        poll: float | None = s.poll_interval
        if poll is not None and poll <= 0:
            error(s.pos, f"{where}: poll_interval must be positive")
        if protocol is SerialProtocol.ASCII and poll is not None:
            error(s.pos, f"{where}: ascii boards send on their own; remove poll_interval")
        if protocol.polled and poll is None:
            poll = DEFAULT_POLL_INTERVAL
        if s.address is not None and protocol is not SerialProtocol.SENSEAIR_S8:
            error(s.pos, f"{where}: address is for senseair-s8 (Modbus) only")
        address = 0xFE if s.address is None else s.address
        if not (1 <= address <= 247 or address == 0xFE):
            error(s.pos, f"{where}: Modbus address {address} is not {MODBUS_ADDRESSES}")
        if s.keys and protocol is not SerialProtocol.ASCII:
            error(s.pos, f"{where}: keys is for ascii boards only")
        for key, value in s.keys.items():
            if not BOARD_KEY.fullmatch(key):
                error(s.pos, f"{where}: board key {key!r} has characters a line cannot carry")
            if not FIELD_NAME.fullmatch(value):
                error(s.pos, f"{where}: field name {value!r} must match [a-z][a-z0-9_]*")
        ports[name] = SerialPort(
            name=name,
            device=s.device.value,
            protocol=protocol,
            baud=s.baud,
            poll_interval=poll,
            timeout=s.timeout,
            address=address,
            keys=dict(s.keys),
        )
    return ports


def resolve_binding(
    point: str,
    s: SerialBindingSection,
    ports: dict[str, SerialPort],
    fill: dict[str, str],
    error: ErrorSink,
    *,
    also: tuple[str, ...] = (),
) -> SerialBinding | None:
    """A point's binding with its port name filled in; None (and an error) if it is unusable.
    `point` is the point's name, `fill` its room's values, `also` the other bindings it has."""
    where = f"point {point!r} of {fill['building']}.{fill['room']}"
    for other in also:
        error(s.port.pos, f"{where} has both {other}: and serial:; keep one")
    try:
        name = s.port.value.format(**fill)
    except (KeyError, IndexError, ValueError) as exc:
        error(
            s.port.pos,
            f"{where}: serial port {s.port.value!r}: only {{site}}, {{building}}, {{room}}, "
            f"{{kind}} can be filled in ({exc})",
        )
        return None
    port = ports.get(name)
    if port is None:
        declared = ", ".join(sorted(ports)) or "none"
        hint = did_you_mean(name, list(ports))
        error(
            s.port.pos,
            f"{where}: no serial port {name!r} under serial:{hint} (declared: {declared})",
        )
        return None
    field_name = s.field_name.value if s.field_name is not None else point
    pos = s.field_name.pos if s.field_name is not None else s.port.pos
    fields = known_fields(port)
    if fields and field_name not in fields:
        hint = did_you_mean(field_name, list(fields))
        error(
            pos,
            f"{where}: {port.protocol} port {name!r} has no value {field_name!r}; "
            f"it gives {', '.join(fields)}{hint}",
        )
        return None
    if not BOARD_KEY.fullmatch(field_name):
        error(pos, f"{where}: {field_name!r} cannot be a key of a board's line")
        return None
    return SerialBinding(name, field_name)


def known_fields(port: SerialPort) -> tuple[str, ...]:
    """The values a port gives; empty for an ASCII board without a key map (any key)."""
    if port.protocol is SerialProtocol.ASCII:
        return tuple(port.keys.values())
    return SERIAL_FIELDS[port.protocol]
