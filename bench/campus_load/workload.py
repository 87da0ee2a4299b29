"""The campus-load workload: rooms of Zigbee2MQTT 2.x multisensors, the two rules every engine
implements, and the oracle that knows which reading must cause which command.

Each room has a multisensor (``zigbee2mqtt/load-<room>-multisensor``, five fields: occupancy,
illuminance in lux, co2, temperature, humidity), a light and a fan (``.../load-<room>-light/set``,
``.../load-<room>-fan/set``, ``{"state":"ON"}``/``{"state":"OFF"}``). The rules, evaluated once
per message:

- fan: on when ``occupancy and co2 > 1000``, off when ``co2 < 800 or not occupancy``;
- light: on when ``occupancy and illuminance < 300``, off when ``not occupancy``.

Everything starts off and a command goes out only when a rule switches; `Workload.prime` tells
the engine where each room stands before the first measured reading. Readings are seeded
random walks (occupancy comes and goes, CO2 rises while a room is occupied and falls while the
fan runs), with moves that test what a controller can get wrong: exact boundary values (1000,
800, 300) that must switch nothing, repeated readings that must not repeat a command, vacancy
with CO2 above 1000, and pairs of readings of one sensor sent back to back, the first crossing
a threshold and the second holding inside the band (``co2 1100`` then ``900`` while occupied:
fan on once, not off). About 5 % of readings cause a command.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

FAN_ON, FAN_OFF, DARK = 1000, 800, 300
PROBE = "probe"
"""A room outside the measured ones: the generator pokes it until the engine answers."""
PAIR, BOUNDARY, STUFFY_VACANCY, REPEAT, ARRIVE, LEAVE = 0.008, 0.01, 0.004, 0.05, 0.006, 0.006
"""Chances, per reading of a room, of each move; the rest are drifts."""
WARMUP = 200
"""Readings each room's walk takes, unpublished, before its first reading: the rooms start in
the walk's steady state (half of them occupied, some stuffy), not all vacant and fresh."""


def room_name(i: int) -> str:
    return f"r{i:05d}"


def sensor_topic(room: str) -> str:
    return f"zigbee2mqtt/load-{room}-multisensor"


def command_topic(room: str, device: str) -> str:
    return f"zigbee2mqtt/load-{room}-{device}/set"


class Reading(NamedTuple):
    """One multisensor message: all five fields at once (a named tuple: the publishers make
    tens of thousands a second)."""

    occupancy: bool
    illuminance: int
    co2: int
    temperature: float
    humidity: float

    def payload(self) -> str:
        """The JSON Zigbee2MQTT 2.x publishes for the sensor."""
        return (
            f'{{"occupancy":{"true" if self.occupancy else "false"},'
            f'"illuminance":{self.illuminance},"co2":{self.co2},'
            f'"temperature":{self.temperature:.1f},"humidity":{self.humidity:.1f}}}'
        )


def fan_after(fan: bool, r: Reading) -> bool:
    if not fan:
        return r.occupancy and r.co2 > FAN_ON
    return not (r.co2 < FAN_OFF or not r.occupancy)


def light_after(light: bool, r: Reading) -> bool:
    if not light:
        return r.occupancy and r.illuminance < DARK
    return r.occupancy


@dataclass(slots=True)
class Room:
    """A room's sensor values now, and the state the rules have put its actuators in."""

    topic: str
    fan_topic: str
    light_topic: str
    last: Reading
    fan: bool = False
    light: bool = False

    def apply(self, r: Reading) -> tuple[tuple[str, bool], ...]:
        """The oracle: the commands `r` must cause, as ``(command topic, on)``."""
        self.last = r
        fan, light = fan_after(self.fan, r), light_after(self.light, r)
        if fan == self.fan and light == self.light:
            return ()
        out = []
        if fan != self.fan:
            self.fan = fan
            out.append((self.fan_topic, fan))
        if light != self.light:
            self.light = light
            out.append((self.light_topic, light))
        return tuple(out)


class Sent(NamedTuple):
    """A reading to publish and the commands it must cause."""

    topic: str
    payload: str
    commands: tuple[tuple[str, bool], ...]


class Workload:
    """Some rooms' readings, one room after the other; a message is one reading or a back-to-back
    pair (published with no pause between the two)."""

    def __init__(self, rooms: Sequence[int], seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.rooms = [self._room(room_name(i)) for i in rooms]
        self._next = 0
        for room in self.rooms:
            for _ in range(WARMUP):
                for r in self._readings(room):
                    room.apply(r)
            room.fan = room.light = False

    def _room(self, name: str) -> Room:
        rng = self.rng
        start = Reading(
            False,
            rng.randint(100, 700),
            rng.randint(500, 750),
            round(rng.uniform(20, 23), 1),
            round(rng.uniform(35, 50), 1),
        )
        return Room(
            sensor_topic(name), command_topic(name, "fan"), command_topic(name, "light"), start
        )

    def messages(self, readings: int) -> list[list[Sent]]:
        """The next messages, at least `readings` readings in all."""
        out = []
        count = 0
        while count < readings:
            out.append(self.next_message())
            count += len(out[-1])
        return out

    def next_message(self) -> list[Sent]:
        room = self.rooms[self._next]
        self._next = (self._next + 1) % len(self.rooms)
        return [Sent(room.topic, r.payload(), room.apply(r)) for r in self._readings(room)]

    def prime(self) -> list[Sent]:
        """Every room's current values, one reading each: what the engine needs to know before
        the measured readings (the oracle starts from everything off, as the engines do)."""
        return [Sent(room.topic, room.last.payload(), room.apply(room.last)) for room in self.rooms]

    def reset(self) -> list[Sent]:
        """A vacant reading for every room (everything off, whatever the engine got wrong
        before), then `prime`."""
        out = []
        for room in self.rooms:
            last = room.last
            vacant = Reading(False, 500, 600, last.temperature, last.humidity)
            out.append(Sent(room.topic, vacant.payload(), room.apply(vacant)))
            room.last = last
        return out + self.prime()

    def _readings(self, room: Room) -> list[Reading]:
        rng = self.rng
        last = room.last
        move = rng.random()
        if move < PAIR:
            return self._pair(room)
        move -= PAIR
        if move < BOUNDARY:
            co2 = FAN_OFF if room.fan else FAN_ON
            lux = last.illuminance if room.light else DARK
            return [Reading(last.occupancy, lux, co2, last.temperature, last.humidity)]
        move -= BOUNDARY
        if move < STUFFY_VACANCY:
            co2 = 1050 + int(rng.random() * 351)
            return [Reading(False, last.illuminance, co2, last.temperature, last.humidity)]
        move -= STUFFY_VACANCY
        if move < REPEAT:
            return [last]
        move -= REPEAT
        occupancy = last.occupancy
        if move < ARRIVE + LEAVE:
            occupancy = move < ARRIVE
        if occupancy and not room.fan:
            trend = 12
        elif room.fan:
            trend = -20
        else:
            trend = -10
        rnd = rng.random
        return [
            Reading(
                occupancy,
                min(900, max(20, last.illuminance + int(rnd() * 81) - 40)),
                min(1600, max(420, last.co2 + trend + int(rnd() * 81) - 40)),
                min(28.0, max(16.0, last.temperature + 0.2 * rnd() - 0.1)),
                min(80.0, max(20.0, last.humidity + 0.6 * rnd() - 0.3)),
            )
        ]

    def _pair(self, room: Room) -> list[Reading]:
        """Two readings where the first crosses a threshold and the second holds in the band:
        the fan switches once and stays, the light goes on and stays on while occupied."""
        rng = self.rng
        last = room.last
        t, h = last.temperature, last.humidity
        if room.fan:
            lux = last.illuminance
            first = Reading(True, lux, rng.randint(700, FAN_OFF - 1), t, h)
            return [first, Reading(True, lux, rng.randint(850, 950), t, h)]
        dark = last.illuminance if room.light else rng.randint(150, DARK - 1)
        bright = last.illuminance if room.light else rng.randint(DARK + 1, 400)
        first = Reading(True, dark, rng.randint(FAN_ON + 1, 1300), t, h)
        return [first, Reading(True, bright, rng.randint(850, 950), t, h)]


def probe_payload(dark: bool) -> str:
    """A reading for the probe room: occupied, and dark (light on) or bright."""
    return Reading(True, 10 if dark else 900, 600, 21.0, 40.0).payload()


def campus_yaml(rooms: int, qos: int = 1) -> str:
    """The campus.yaml campusctl runs the workload with (one building, `rooms` + the probe),
    its commands at MQTT QoS `qos`."""
    return f"""\
site: {{id: load, name: Campus load, timezone: Europe/Oslo}}
kinds:
  room:
    points:
      occupancy: {{type: bool, mqtt: &ms {{topic: "zigbee2mqtt/load-{{room}}-multisensor"}}}}
      illuminance: {{unit: lx, range: [0, 150000], mqtt: *ms}}
      co2: {{unit: ppm, range: [250, 10000], mqtt: *ms}}
      temperature: {{unit: °C, range: [-30, 60], mqtt: *ms}}
      humidity: {{unit: "%", range: [0, 100], mqtt: *ms}}
    actuators:
      lights:
        type: switch
        default: off
        mqtt: {{topic: "zigbee2mqtt/load-{{room}}-light", qos: {qos}}}
      ventilation:
        type: switch
        default: off
        mqtt: {{topic: "zigbee2mqtt/load-{{room}}-fan", qos: {qos}}}
buildings:
  - id: load
    rooms:
      - {{id: {room_name(0)}..{room_name(rooms - 1)}, kind: room}}
      - {{id: {PROBE}, kind: room}}
"""


RULES_YAML = """\
# The two campus-load rules (bench/campus_load/workload.py), in campusctl's rule language.
rules:
  - id: fan-when-stuffy
    description: Fan on while occupied above 1000 ppm, off below 800 ppm or when vacant.
    when: occupancy and co2 > 1000
    until: co2 < 800 or not occupancy
    set:
      ventilation: on

  - id: lights-when-occupied-and-dark
    description: Lights on when occupied and darker than 300 lx, off when vacant.
    when: occupancy and illuminance < 300
    until: not occupancy
    set:
      lights: on
"""
