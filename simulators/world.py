"""The whole simulated campus, without any I/O.

`World.step(now)` moves every room to `now` in sub-steps of at most `max_substep` seconds and
returns the MQTT messages the devices would publish meanwhile; `World.on_message` hands a command
to the device it is for and returns the state that device publishes in reply. A runner (see
`simulators.mqtt`) only moves these messages to and from a broker; a benchmark can drive the world
directly, with no broker, as fast as the CPU allows.

Multisensors report like Zigbee2MQTT devices: every `report_interval` seconds (each room at its
own phase, so a campus does not report in one burst) and at once when the PIR's occupancy changes,
not retained; availability is retained.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from campus.model import ActuatorSpec, Campus, MqttBinding, PayloadFormat, Room
from campus.types import Value
from simulators.devices import Device
from simulators.occupancy import DEFAULT_HABITS, Habits, Pir, RoomSchedule
from simulators.outdoor import OUTDOOR_CO2_PPM, Outdoor, Weather
from simulators.physics import (
    DEFAULT_SETPOINT,
    NOBODY,
    Drive,
    Occupants,
    RoomParams,
    RoomPhysics,
    illuminance,
)

log = logging.getLogger("campusctl.sim")

SENSED = ("occupancy", "illuminance", "co2", "temperature", "humidity", "pm2_5", "pm10")
"""Point names the simulator has a model for (RULES.md's standard point names)."""
ONLINE = b'{"state":"online"}'
OFFLINE = b'{"state":"offline"}'
BATTERY_DRAIN_PER_DAY = 0.2
"""Provisional: % of battery a multisensor uses a day."""


@dataclass(frozen=True, slots=True)
class Conditions:
    """What a scenario may change about the simulated world (defaults: the modules' own)."""

    habits: Habits = DEFAULT_HABITS
    cloud: float | None = None
    """Fixed cloud cover 0 (clear) .. 1 (overcast); None: drawn per day and hour from the seed."""
    outdoor_co2: float = OUTDOOR_CO2_PPM


class Publish(NamedTuple):
    """One message to publish."""

    topic: str
    payload: bytes
    retain: bool


@dataclass(frozen=True, slots=True)
class RoomTruth:
    """The true state of a room (not what its sensors report): for tests and summaries."""

    room: str
    pupils: int
    adults: int
    pir: bool
    """What the PIR reports now."""
    co2: float
    illuminance: float
    temperature: float
    humidity: float
    lights: float
    """0..1 of full output."""
    ventilation: float
    """0..1 of design airflow."""
    blinds: float
    """0..1 closed."""
    heating_setpoint: float
    lighting_wh: float
    fan_wh: float
    heating_wh: float

    @property
    def occupants(self) -> int:
        return self.pupils + self.adults


@dataclass(frozen=True, slots=True)
class _SensorTopic:
    """One sensor device: a topic and the (payload key, point name) pairs it reports."""

    binding: MqttBinding
    fields: tuple[tuple[str, str], ...]

    @property
    def reports_occupancy(self) -> bool:
        return any(name == "occupancy" for _, name in self.fields)


class _SimRoom:
    """One room: its people, PIR, physics, sensors and actuator devices."""

    def __init__(
        self,
        room: Room,
        campus: Campus,
        seed: int,
        start: float,
        *,
        outdoor: Outdoor,
        interval: float,
        habits: Habits = DEFAULT_HABITS,
    ) -> None:
        self.spec = room
        self.rng = random.Random(f"{seed}:{room.id}:sensors")
        self.schedule = RoomSchedule(room, campus.timetable, campus.site.timezone, seed, habits)
        self.pir = Pir(random.Random(f"{seed}:{room.id}:pir"))
        self.params = RoomParams.for_room(room)
        self.sensors = _sensor_topics(room)
        self.devices = _devices(room)
        self.outdoor_only = room.kind == "outdoor"
        self.drive = self._drive()
        self.physics = RoomPhysics.initial(self.params, outdoor, self.drive.setpoint)
        self.people = NOBODY
        self.occupied = False
        self.start = start
        self.interval = interval
        self.next_report = start + interval * self.rng.random()

    def advance(self, t: float, dt: float, outdoor: Outdoor) -> list[Publish]:
        if self.outdoor_only:
            changed = False
        else:
            self.people = self.schedule.at(t)
            occupied = self.pir.advance(t, dt, self.people)
            changed = occupied != self.occupied
            self.occupied = occupied
            self.physics.advance(dt, self.people, outdoor, self.drive)
        if t >= self.next_report:
            missed = math.ceil((t - self.next_report) / self.interval)
            self.next_report += self.interval * max(1, missed)
            return self.reports(outdoor, t)
        if changed:
            return self.reports(outdoor, t, only_occupancy=True)
        return []

    def reports(self, outdoor: Outdoor, t: float, *, only_occupancy: bool = False) -> list[Publish]:
        out = []
        for sensor in self.sensors:
            if only_occupancy and not sensor.reports_occupancy:
                continue
            values = {key: self._reading(name, outdoor) for key, name in sensor.fields}
            if sensor.binding.format == PayloadFormat.PLAIN:
                payload = _plain(next(iter(values.values())))
            else:
                days = (t - self.start) / 86400.0
                values["battery"] = max(1, round(100 - BATTERY_DRAIN_PER_DAY * days))
                values["linkquality"] = self.rng.randint(90, 160)
                payload = json.dumps(values, separators=(",", ":")).encode()
            out.append(Publish(sensor.binding.topic, payload, False))
        return out

    def _reading(self, name: str, outdoor: Outdoor) -> Value:
        """A sensor reading: the truth with a little noise, rounded as Zigbee2MQTT reports it."""
        gauss = self.rng.gauss
        if name == "occupancy":
            return self.occupied
        if name == "illuminance":
            lux = self.lux(outdoor)
            return max(0, round(lux * (1.0 + gauss(0.0, 0.02)) + gauss(0.0, 1.0)))
        if name == "co2":
            return round(self.co2(outdoor) + gauss(0.0, 8.0))
        if name == "temperature":
            return round(self.temperature(outdoor) + gauss(0.0, 0.05), 1)
        if name == "humidity":
            return round(min(100.0, max(0.0, self.humidity(outdoor) + gauss(0.0, 0.3))), 1)
        people = self.people.total
        if name == "pm2_5":
            return round(max(0.0, 3.0 + 0.08 * people + gauss(0.0, 0.5)), 1)
        return round(max(0.0, 6.0 + 0.25 * people + gauss(0.0, 1.0)), 1)

    def lux(self, outdoor: Outdoor) -> float:
        if self.outdoor_only:
            return outdoor.illuminance
        return illuminance(self.params, outdoor, self.drive)

    def co2(self, outdoor: Outdoor) -> float:
        return outdoor.co2 if self.outdoor_only else self.physics.co2

    def temperature(self, outdoor: Outdoor) -> float:
        return outdoor.temperature if self.outdoor_only else self.physics.temperature

    def humidity(self, outdoor: Outdoor) -> float:
        return outdoor.humidity if self.outdoor_only else self.physics.humidity

    def _drive(self) -> Drive:
        """Decode the devices' states into what they do to the room, by actuator name."""
        values: dict[str, Value] = {}
        for device in self.devices:
            values.update(device.values())
        setpoint = values.get("heating_setpoint", DEFAULT_SETPOINT)
        return Drive(
            lights=_fraction(values.get("lights", 0.0)),
            ventilation=_fraction(values.get("ventilation", 0.0)),
            blinds=_fraction(values.get("blinds", 0.0)),
            setpoint=float(setpoint),
        )

    def command(self, device: Device, topic: str, payload: bytes) -> list[Publish]:
        if not device.command(topic, payload):
            return []
        self.drive = self._drive()
        return [Publish(device.topic, device.state(), False)]


class World:
    """Every room of a campus, advanced together on one simulated time line."""

    def __init__(
        self,
        campus: Campus,
        seed: int,
        start: float,
        *,
        report_interval: float = 60.0,
        max_substep: float = 10.0,
        conditions: Conditions | None = None,
    ) -> None:
        self.campus = campus
        self.seed = seed
        self.now = start
        self.report_interval = report_interval
        self.max_substep = max_substep
        self.conditions = conditions or Conditions()
        self.weather = Weather(
            campus.site, seed, cloud=self.conditions.cloud, co2=self.conditions.outdoor_co2
        )
        self.outdoor = self.weather.at(start)
        self._rooms = {
            r.id: _SimRoom(
                r,
                campus,
                seed,
                start,
                outdoor=self.outdoor,
                interval=report_interval,
                habits=self.conditions.habits,
            )
            for r in campus.rooms
        }
        self._routes: dict[str, list[tuple[_SimRoom, Device]]] = {}
        for room in self._rooms.values():
            for device in room.devices:
                for topic in device.command_topics:
                    self._routes.setdefault(topic, []).append((room, device))

    @property
    def room_ids(self) -> list[str]:
        return list(self._rooms)

    def command_topics(self) -> list[str]:
        """The topics a runner subscribes to and feeds into `on_message`."""
        return list(self._routes)

    def device_topics(self) -> list[str]:
        """Every simulated device's state topic (each has ``<topic>/availability``)."""
        topics = {s.binding.topic for r in self._rooms.values() for s in r.sensors}
        topics |= {d.topic for r in self._rooms.values() for d in r.devices}
        return sorted(topics)

    def start_messages(self) -> list[Publish]:
        """Availability online (retained), every actuator's state and a first sensor report."""
        out = [Publish(f"{t}/availability", ONLINE, True) for t in self.device_topics()]
        for room in self._rooms.values():
            out.extend(Publish(d.topic, d.state(), False) for d in room.devices)
            out.extend(room.reports(self.outdoor, self.now))
        return out

    def stop_messages(self) -> list[Publish]:
        """Availability offline (retained), for a clean stop."""
        return [Publish(f"{t}/availability", OFFLINE, True) for t in self.device_topics()]

    def step(self, now: float) -> list[Publish]:
        """Advance every room to `now`; return what the devices published meanwhile, in order."""
        if now <= self.now:
            return []
        n = max(1, math.ceil((now - self.now) / self.max_substep - 1e-9))
        dt = (now - self.now) / n
        out: list[Publish] = []
        start = self.now
        for i in range(1, n + 1):
            t = now if i == n else start + i * dt
            self.outdoor = self.weather.at(t)
            for room in self._rooms.values():
                out.extend(room.advance(t, dt, self.outdoor))
            self.now = t
        return out

    def on_message(self, topic: str, payload: bytes) -> list[Publish]:
        """Apply a command (on a ``/set`` or ``/get`` topic); return the devices' new state."""
        out: list[Publish] = []
        for room, device in self._routes.get(topic, []):
            out.extend(room.command(device, topic, payload))
        return out

    def fall_back(self, values: Mapping[str, Value], building: str | None = None) -> list[Publish]:
        """Every device (of `building`; None: of every building) sets its actuators named in
        `values` (``lights``, ``ventilation``) by itself, as its own fallback logic would
        (simulators.fallback); returns the devices' new state, as Zigbee2MQTT publishes it
        after any change."""
        out: list[Publish] = []
        for room_id, room in self._rooms.items():
            if building is not None and not room_id.startswith(f"{building}."):
                continue
            touched = [d for d in room.devices if d.fall_back(values)]
            if touched:
                room.drive = room._drive()
                out.extend(Publish(d.topic, d.state(), False) for d in touched)
        return out

    def truth(self, room_id: str) -> RoomTruth:
        room = self._rooms[room_id]
        energy = room.physics
        return RoomTruth(
            room=room_id,
            pupils=room.people.pupils,
            adults=room.people.adults,
            pir=room.occupied,
            co2=room.co2(self.outdoor),
            illuminance=room.lux(self.outdoor),
            temperature=room.temperature(self.outdoor),
            humidity=room.humidity(self.outdoor),
            lights=room.drive.lights,
            ventilation=room.drive.ventilation,
            blinds=room.drive.blinds,
            heating_setpoint=room.drive.setpoint,
            lighting_wh=energy.lighting_wh,
            fan_wh=energy.fan_wh,
            heating_wh=energy.heating_wh,
        )

    def truths(self) -> dict[str, RoomTruth]:
        return {room_id: self.truth(room_id) for room_id in self._rooms}

    def people(self, room_id: str) -> Occupants:
        """Who is in a room now, with their activities."""
        return self._rooms[room_id].people

    def reading(self, room_id: str, name: str) -> Value:
        """What a sensor of `name` (one of `SENSED`) in the room reads now: the truth with the
        same noise and rounding as the MQTT sensors (serial simulators ask this)."""
        if name not in SENSED:
            raise KeyError(f"no model for {name!r}; the simulator models {', '.join(SENSED)}")
        return self._rooms[room_id]._reading(name, self.outdoor)


def _sensor_topics(room: Room) -> list[_SensorTopic]:
    fields: dict[str, list[tuple[str, str]]] = {}
    bindings: dict[str, MqttBinding] = {}
    for point in room.points.values():
        if point.mqtt is None:
            continue
        if point.name not in SENSED:
            log.debug("%s: no model for point %r, not simulated", room.id, point.name)
            continue
        topic = point.mqtt.topic
        bindings.setdefault(topic, point.mqtt)
        fields.setdefault(topic, []).append((point.mqtt.key or point.name, point.name))
    return [_SensorTopic(bindings[t], tuple(f)) for t, f in fields.items()]


def _devices(room: Room) -> list[Device]:
    groups: dict[str, list[ActuatorSpec]] = {}
    bindings: dict[str, MqttBinding] = {}
    for spec in room.actuators.values():
        if spec.mqtt is not None:
            bindings.setdefault(spec.mqtt.topic, spec.mqtt)
            groups.setdefault(spec.mqtt.topic, []).append(spec)
    return [Device(bindings[t], specs) for t, specs in groups.items()]


def _fraction(value: Value) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return min(1.0, max(0.0, value / 100.0))


def _plain(value: Value) -> bytes:
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return str(value).encode()
