"""``campusctl simulate --serial ROOM=PROTOCOL[:PATH]``: a room's sensor on a pseudo-terminal.

The room's values that the protocol carries (CO2 for mhz19b and senseair-s8, PM for sds011,
illuminance, occupancy and temperature for an ascii board) move from its MQTT sensor to a
simulated serial device: the MQTT sensor stops reporting them, so the controller can only get
them over the serial line. The device reads the same room physics. PATH, if given, is a symlink
kept pointing at the pty (name it in campus.yaml's ``serial:`` as the port's device); the pty
paths are printed on stdout at start, one line per device:

    serial main.r101 mhz19b /dev/pts/7 /tmp/campus/main-r101-co2
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from campus.model import Building, Campus, Room, SerialProtocol
from simulators.serial.ascii_board import AsciiBoardDevice
from simulators.serial.device import SerialDevice, ValueSource
from simulators.serial.mhz19b import Mhz19bDevice
from simulators.serial.runner import SerialSimulator
from simulators.serial.sds011 import Sds011Device
from simulators.serial.senseair_s8 import SenseairS8Device
from simulators.world import World

CARRIED = {
    SerialProtocol.MHZ19B: ("co2",),
    SerialProtocol.SENSEAIR_S8: ("co2",),
    SerialProtocol.SDS011: ("pm2_5", "pm10"),
    SerialProtocol.ASCII: ("illuminance", "occupancy", "temperature"),
}
"""The room values each simulated device reports."""
HELP = (
    "put ROOM's sensor on a pseudo-terminal speaking PROTOCOL (mhz19b, senseair-s8: co2; sds011: "
    "pm2_5, pm10; ascii: illuminance, occupancy, temperature) instead of MQTT; PATH: a symlink "
    "to the pty for campus.yaml's serial: device; repeatable"
)


@dataclass(frozen=True)
class SerialSpec:
    room: str
    protocol: SerialProtocol
    link: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.room}-{self.protocol}"


def parse_specs(texts: list[str], campus: Campus) -> list[SerialSpec]:
    """``main.r101=mhz19b:/tmp/ttyCO2`` -> specs; raises ValueError saying what is wrong."""
    rooms = {room.id for room in campus.rooms}
    specs: list[SerialSpec] = []
    for text in texts:
        room, eq, rest = text.partition("=")
        name, _, link = rest.partition(":")
        if not eq or not room or not name:
            raise ValueError(f"--serial {text!r}: write ROOM=PROTOCOL[:PATH] (main.r101=mhz19b)")
        if room not in rooms:
            raise ValueError(f"--serial {text!r}: no room {room!r} (rooms are like building.room)")
        try:
            protocol = SerialProtocol(name)
        except ValueError:
            choices = ", ".join(p.value for p in SerialProtocol)
            raise ValueError(f"--serial {text!r}: protocol is one of {choices}") from None
        spec = SerialSpec(room, protocol, Path(link) if link else None)
        if any(s.name == spec.name for s in specs):
            raise ValueError(f"--serial {text!r}: that room has a {protocol} already")
        specs.append(spec)
    return specs


def without_mqtt(campus: Campus, specs: list[SerialSpec]) -> Campus:
    """The campus with the moved values' MQTT bindings removed (its MQTT sensors stop sending
    them)."""
    moved: dict[str, set[str]] = {}
    for spec in specs:
        moved.setdefault(spec.room, set()).update(CARRIED[spec.protocol])
    if not moved:
        return campus

    def room(r: Room) -> Room:
        names = moved.get(r.id, set())
        points = {
            n: dataclasses.replace(p, mqtt=None) if n in names else p for n, p in r.points.items()
        }
        return dataclasses.replace(r, points=points)

    buildings = tuple(
        Building(b.id, b.name, tuple(room(r) for r in b.rooms)) for b in campus.buildings
    )
    return dataclasses.replace(campus, buildings=buildings)


def build_simulator(world: World, specs: list[SerialSpec]) -> SerialSimulator:
    simulator = SerialSimulator()
    for spec in specs:
        simulator.add(spec.name, device(spec.protocol, room_source(world, spec.room)), spec.link)
    return simulator


def device(protocol: SerialProtocol, source: ValueSource) -> SerialDevice:
    match protocol:
        case SerialProtocol.MHZ19B:
            return Mhz19bDevice(source)
        case SerialProtocol.SENSEAIR_S8:
            return SenseairS8Device(source)
        case SerialProtocol.SDS011:
            return Sds011Device(source)
        case SerialProtocol.ASCII:
            return AsciiBoardDevice(source)


def room_source(world: World, room_id: str) -> ValueSource:
    """A room's sensor readings from the world (noise and rounding as its MQTT sensors')."""

    def source(name: str) -> float | None:
        try:
            return float(world.reading(room_id, name))
        except KeyError:
            return None

    return source


def announce(simulator: SerialSimulator, specs: list[SerialSpec], out: TextIO) -> None:
    """One line per device: ``serial ROOM PROTOCOL PTY [LINK]``."""
    for spec in specs:
        pty = simulator.ports[spec.name].pty
        link = f" {spec.link}" if spec.link is not None else ""
        print(f"serial {spec.room} {spec.protocol} {pty.path}{link}", file=out, flush=True)
