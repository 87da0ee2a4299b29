"""The campus-load workload: R rooms of Zigbee2MQTT 2.x multisensors and the commands two rules
must produce from their readings, known exactly in advance.

Each room has a multisensor (``zigbee2mqtt/load-<room>-multisensor``: occupancy, illuminance in
lux, CO2, temperature, humidity), a light and a fan (``.../load-<room>-light/set``,
``.../load-<room>-fan/set``, ``{"state":"ON"}``/``{"state":"OFF"}``). The rules every engine
implements:

- fan: on when CO2 > 1000 ppm, off when CO2 < 800 ppm (hysteresis; between them it stays);
- lights: on when the room is occupied and illuminance < 300 lx, else off.

Commands go out only when a value changes; everything starts off. Readings are random walks that
cross the thresholds now and then (about one reading in twelve causes a command), drawn from a
seed, so the `Oracle` knows which reading must cause which command.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.campus_load.wire import publish_packet

FAN_ON, FAN_OFF, DARK = 1000, 800, 300
PROBE = "probe"
"""A room outside the measured ones: the generator pokes it until the engine answers."""


def room_name(i: int) -> str:
    return f"r{i:05d}"


def sensor_topic(room: str) -> str:
    return f"zigbee2mqtt/load-{room}-multisensor"


def command_topic(room: str, device: str) -> str:
    return f"zigbee2mqtt/load-{room}-{device}/set"


ON = b'{"state":"ON"}'
OFF = b'{"state":"OFF"}'


@dataclass(slots=True)
class RoomState:
    topic: bytes
    light_topic: str
    fan_topic: str
    occupancy: bool = False
    lux: int = 400
    co2: int = 700
    fan: bool = False
    light: bool = False


@dataclass(frozen=True, slots=True)
class Expected:
    """A command the engines must send because of one reading."""

    topic: str
    payload: bytes


class Workload:
    """Rooms, their next readings (as ready PUBLISH packets) and the commands those cause."""

    def __init__(self, rooms: int, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.rooms = [
            RoomState(
                sensor_topic(room_name(i)).encode(),
                command_topic(room_name(i), "light"),
                command_topic(room_name(i), "fan"),
                lux=self.rng.randint(100, 700),
                co2=self.rng.randint(500, 900),
            )
            for i in range(rooms)
        ]
        self._next = 0

    def next_reading(self) -> tuple[bytes, list[Expected]]:
        """The next room's reading as a PUBLISH packet, and the commands it must cause."""
        room = self.rooms[self._next]
        self._next = (self._next + 1) % len(self.rooms)
        rnd = self.rng.random
        if rnd() < 0.06:
            room.occupancy = not room.occupancy
        room.lux = min(900, max(20, room.lux + int(rnd() * 121.0) - 60))
        room.co2 = min(1500, max(420, room.co2 + int(rnd() * 186.0) - 90))
        payload = (
            b'{"occupancy":'
            + (b"true" if room.occupancy else b"false")
            + b',"illuminance":'
            + str(room.lux).encode()
            + b',"co2":'
            + str(room.co2).encode()
            + b',"temperature":21.4,"humidity":41.5,"battery":97,"linkquality":120}'
        )
        expected: list[Expected] = []
        fan = room.fan
        if room.co2 > FAN_ON:
            fan = True
        elif room.co2 < FAN_OFF:
            fan = False
        if fan != room.fan:
            room.fan = fan
            expected.append(Expected(room.fan_topic, ON if fan else OFF))
        light = room.occupancy and room.lux < DARK
        if light != room.light:
            room.light = light
            expected.append(Expected(room.light_topic, ON if light else OFF))
        return publish_packet(room.topic, payload), expected


def probe_packet(dark: bool) -> bytes:
    """A reading for the probe room: occupied, and dark (lights on) or bright (lights off)."""
    lux = 10 if dark else 900
    payload = (
        f'{{"occupancy":true,"illuminance":{lux},"co2":600,"temperature":21.0,"humidity":40.0}}'
    ).encode()
    return publish_packet(sensor_topic(PROBE).encode(), payload)


def campus_yaml(rooms: int) -> str:
    """The campus.yaml campusctl runs the workload with (one building, `rooms` + the probe)."""
    return f"""\
site: {{id: load, name: Campus load, timezone: Europe/Oslo}}
kinds:
  room:
    points:
      occupancy: {{type: bool, mqtt: &ms {{topic: "zigbee2mqtt/load-{{room}}-multisensor"}}}}
      illuminance: {{unit: lx, range: [0, 150000], mqtt: *ms}}
      co2: {{unit: ppm, range: [250, 10000], mqtt: *ms}}
    actuators:
      lights: {{type: switch, default: off, mqtt: {{topic: "zigbee2mqtt/load-{{room}}-light"}}}}
      ventilation: {{type: switch, default: off, mqtt: {{topic: "zigbee2mqtt/load-{{room}}-fan"}}}}
buildings:
  - id: load
    rooms:
      - {{id: {room_name(0)}..{room_name(rooms - 1)}, kind: room}}
      - {{id: {PROBE}, kind: room}}
"""


RULES_YAML = """\
# The two campus-load rules (bench/campus_load/workload.py), in campusctl's rule language.
rules:
  - id: fan-by-co2
    description: Fan on above 1000 ppm, off below 800 ppm.
    when: co2 > 1000
    until: co2 < 800
    set:
      ventilation: on

  - id: lights-when-occupied-and-dark
    description: Lights on while the room is occupied and darker than 300 lx.
    when: occupancy and illuminance < 300
    set:
      lights: on
"""
