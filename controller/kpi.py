"""The site's day in a few figures, once a minute: what the district compares schools by.

Every minute of the controller's clock the `Kpi` extension looks at each room it controls:
whether it is occupied, its CO2 and temperature, and how much power its lights and ventilation
draw (rated power, `ActuatorSpec.power_w`, × on, or × the share of a level's range), and
publishes the day so far on ``campusctl/<site>/kpi`` (retained; `wire.KpiMessage`). The same
message goes on the controller's bus every minute, broker or not, for the historian. Sampling a
minute at a time is what the figures need: compliance is counted in occupied room-minutes, and
energy to a minute of a switch's on-time.

Each day's counts and its energy by hour are kept in the state file (the last `DAYS_KEPT`
days), so a restart keeps today's figures and "the same weekday last week, by this time" is
known a week after the first start.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from campus import wire
from campus.model import ActuatorSpec, ActuatorType, Campus, Period, Room
from campus.types import Value
from controller.extension import end_task
from controller.runtime import Controller
from controller.shard import Shard
from drivers.mqtt import MqttDriver
from rules.durable import overrides
from rules.values import UNKNOWN

log = logging.getLogger("campusctl.kpi")

MINUTE = 60.0
CO2_GOOD = 1000.0
CO2_FAIR = 1400.0
COMFORT = (20.0, 26.0)
"""°C: EN 16798-1 category II, heating season low and cooling season high."""
OLD_OVERRIDE = 4 * 3600.0
LIGHTS_W_PER_M2 = 8.0
"""Default lighting power density: LED classroom lighting at 300 lx (EN 12464-1)."""
LIGHTS_W = 400.0
"""Default lighting power of a room without an area."""
VENTILATION_W = 150.0
"""Default fan power of a room's ventilation at full speed."""
DAYS_KEPT = 8
CATCH_UP = 3600.0
"""Clock seconds of minutes a late sampler still counts one by one."""


def rated_power(spec: ActuatorSpec, room: Room) -> float:
    """W drawn when on (a level: at the top of its range): `power_w`, else the default of the
    actuator's name; 0 (not counted) for others."""
    if spec.power_w is not None:
        return spec.power_w
    if spec.name == "lights":
        return LIGHTS_W_PER_M2 * room.area if room.area > 0 else LIGHTS_W
    if spec.name == "ventilation":
        return VENTILATION_W
    return 0.0


def load_share(spec: ActuatorSpec, value: Value | None) -> float:
    """How much of its rated power an actuator draws at `value`."""
    if value is None or isinstance(value, bool) or spec.type is ActuatorType.SWITCH:
        return 1.0 if value is True else 0.0
    low, high = spec.range
    return min(1.0, max(0.0, (value - low) / (high - low))) if high > low else 0.0


@dataclass
class Day:
    """One day's counts (room-minutes) and its energy by local hour (Wh)."""

    day: str
    occupied_minutes: int = 0
    co2_minutes: int = 0
    co2_within_1000_minutes: int = 0
    co2_within_1400_minutes: int = 0
    temperature_minutes: int = 0
    temperature_comfort_minutes: int = 0
    lights_wh: list[float] = field(default_factory=lambda: [0.0] * 24)
    ventilation_wh: list[float] = field(default_factory=lambda: [0.0] * 24)
    outside_wh: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Day:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def by(self, series: list[float], hour: int, minute: int) -> float:
        """Wh of `series` from midnight to `hour`:`minute`."""
        return sum(series[:hour]) + series[hour] * minute / 60.0


@dataclass(frozen=True, slots=True)
class _RoomPoints:
    room: Room
    occupancy: str | None
    co2: str | None
    temperature: str | None
    actuators: tuple[tuple[ActuatorSpec, float, str], ...]
    """(spec, rated W, "lights" | "ventilation" | "other")."""


class KpiTracker:
    """The counting, without a clock or a broker: `sample` takes one minute."""

    def __init__(
        self, campus: Campus, rooms: list[Room], days: dict[str, Day] | None = None
    ) -> None:
        self.campus = campus
        self.zone = ZoneInfo(campus.site.timezone)
        self.timetable: dict[int, tuple[Period, ...]] = campus.timetable
        self.days: dict[str, Day] = dict(days or {})
        self.today: Day | None = None
        self.rooms = [
            _RoomPoints(
                room,
                room.points["occupancy"].id if "occupancy" in room.points else None,
                room.points["co2"].id if "co2" in room.points else None,
                room.points["temperature"].id if "temperature" in room.points else None,
                tuple(
                    (spec, power, name if name in ("lights", "ventilation") else "other")
                    for name, spec in room.actuators.items()
                    if (power := rated_power(spec, room)) > 0
                ),
            )
            for room in rooms
        ]
        self.in_use = 0
        self.worst: tuple[str, float] | None = None

    def sample(
        self,
        now: float,
        value: Callable[[str], Value | None],
        actuator: Callable[[str], Value | None],
    ) -> Day:
        """One minute at clock time `now`: `value(point_id)` the live value of a point (None:
        unknown), `actuator(actuator_id)` what an actuator is at (reported, else commanded).
        Returns the day counted (a new one after midnight)."""
        local = datetime.fromtimestamp(now, self.zone)
        day = self._day(local.date())
        minute = local.hour * 60 + local.minute
        inside = any(p.start <= minute < p.end for p in self.timetable.get(local.weekday(), ()))
        hours = MINUTE / 3600.0
        in_use = 0
        worst: tuple[str, float] | None = None
        low, high = COMFORT
        for r in self.rooms:
            co2 = value(r.co2) if r.co2 else None
            if isinstance(co2, float) and (worst is None or co2 > worst[1]):
                worst = (r.room.id, co2)
            if r.occupancy and value(r.occupancy) is True:
                in_use += 1
                day.occupied_minutes += 1
                if isinstance(co2, float):
                    day.co2_minutes += 1
                    day.co2_within_1000_minutes += co2 <= CO2_GOOD
                    day.co2_within_1400_minutes += co2 <= CO2_FAIR
                temperature = value(r.temperature) if r.temperature else None
                if isinstance(temperature, float):
                    day.temperature_minutes += 1
                    day.temperature_comfort_minutes += low <= temperature <= high
            for spec, power, kind in r.actuators:
                wh = power * load_share(spec, actuator(spec.id)) * hours
                if not wh:
                    continue
                if kind == "lights":
                    day.lights_wh[local.hour] += wh
                elif kind == "ventilation":
                    day.ventilation_wh[local.hour] += wh
                if not inside and kind != "other":
                    day.outside_wh += wh
        self.in_use, self.worst = in_use, worst
        return day

    def _day(self, today: date) -> Day:
        key = today.isoformat()
        if self.today is None or self.today.day != key:
            self.today = self.days.get(key) or Day(key)
            self.days[key] = self.today
            for old in sorted(self.days)[:-DAYS_KEPT]:
                del self.days[old]
        return self.today

    def last_week(self, now: float) -> Day | None:
        local = datetime.fromtimestamp(now, self.zone)
        return self.days.get((local.date() - timedelta(days=7)).isoformat())


class Kpi:
    """The KPI extension; see the module docstring. `shard`: the rooms it counts (None: every
    room); `days`: the counts kept before (the state file), `keep(day)` stores one."""

    name = "kpi"

    def __init__(
        self,
        shard: Shard | None = None,
        days: dict[str, Day] | None = None,
        keep: Callable[[Day], None] | None = None,
    ) -> None:
        self.shard = shard
        self.published = 0
        """KPI messages handed to the broker."""
        self.tracker: KpiTracker | None = None
        self._days = days or {}
        self._keep = keep or (lambda day: None)
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0

    async def start(self, controller: Controller) -> None:
        driver = controller.driver("mqtt")
        if not isinstance(driver, MqttDriver):
            return
        campus = controller.campus
        rooms = campus.rooms if self.shard is None else self.shard.owned_rooms(campus)
        self.tracker = KpiTracker(controller.campus, rooms, self._days)
        self._started = controller.clock.now()
        self._task = asyncio.create_task(self._run(controller, driver), name="kpi")

    async def stop(self) -> None:
        await end_task(self._task)
        self._task = None

    async def _run(self, controller: Controller, driver: MqttDriver) -> None:
        clock, tracker = controller.clock, self.tracker
        assert tracker is not None
        shard = "" if self.shard is None else self.shard.name
        topic = wire.Topics(controller.campus.site.id, shard).kpi
        engine, stats = controller.engine, controller.rooms

        def value(point_id: str) -> Value | None:
            state = engine.points().get(point_id)
            v = None if state is None else state.value
            return None if v is UNKNOWN or isinstance(v, str) else v

        def actuator(actuator_id: str) -> Value | None:
            room, _, name = actuator_id.rpartition(".")
            reported = stats[room].reported.get(name)
            return reported if reported is not None else engine.actuator_value(actuator_id)

        now = clock.now() // MINUTE * MINUTE
        while True:
            # every minute of the clock once, late ones too (a busy loop, a fast demo clock),
            # unless the controller was away for more than an hour (then from now on)
            now = max(now + MINUTE, (clock.now() - CATCH_UP) // MINUTE * MINUTE)
            await clock.sleep_until(now)
            try:
                day = tracker.sample(now, value, actuator)
                self._keep(day)
                message = self.message(controller, now)
                controller.bus.emit(message)
                if driver.connected:
                    driver.publish(topic, wire.encode(message), 0, True)
                    self.published += 1
            except Exception:
                log.exception("KPI: a minute could not be counted; going on")

    def message(self, controller: Controller, now: float) -> wire.KpiMessage:
        tracker = self.tracker
        assert tracker is not None
        assert tracker.today is not None
        day, last = tracker.today, tracker.last_week(now)
        local = datetime.fromtimestamp(now, tracker.zone)
        active: dict[str, int] = {}
        for alarm in controller.alarms:
            if alarm.active:
                active[alarm.severity] = active.get(alarm.severity, 0) + 1
        held = overrides(controller.engine)
        worst = tracker.worst
        return wire.KpiMessage(
            site=controller.campus.site.id,
            shard="" if self.shard is None else self.shard.name,
            ts=now,
            day=day.day,
            rooms=len(tracker.rooms),
            area_m2=sum(r.room.area for r in tracker.rooms),
            rooms_in_use=tracker.in_use,
            occupied_minutes=day.occupied_minutes,
            co2_minutes=day.co2_minutes,
            co2_within_1000_minutes=day.co2_within_1000_minutes,
            co2_within_1400_minutes=day.co2_within_1400_minutes,
            co2_within_1000=wire.share(day.co2_within_1000_minutes, day.co2_minutes),
            co2_within_1400=wire.share(day.co2_within_1400_minutes, day.co2_minutes),
            worst_room=worst[0] if worst else None,
            worst_co2=worst[1] if worst else None,
            temperature_minutes=day.temperature_minutes,
            temperature_comfort_minutes=day.temperature_comfort_minutes,
            temperature_comfort=wire.share(
                day.temperature_comfort_minutes, day.temperature_minutes
            ),
            alarms=active,
            alarms_unacknowledged=sum(1 for a in controller.alarms if not a.acknowledged_by),
            overrides=len(held),
            overrides_over_4h=sum(1 for o in held if now - o.since > OLD_OVERRIDE),
            lights_kwh=round(sum(day.lights_wh) / 1000, 3),
            ventilation_kwh=round(sum(day.ventilation_wh) / 1000, 3),
            outside_timetable_kwh=round(day.outside_wh / 1000, 3),
            lights_kwh_last_week=None
            if last is None
            else round(last.by(last.lights_wh, local.hour, local.minute) / 1000, 3),
            ventilation_kwh_last_week=None
            if last is None
            else round(last.by(last.ventilation_wh, local.hour, local.minute) / 1000, 3),
            uptime_s=now - self._started,
        )
