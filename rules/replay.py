"""`campusctl rules replay`: what the rules would have done with a recorded trace.

A trace is CSV, read in one of three shapes (told apart by the header):

- *long*: columns ``ts, point, value``, one reading per row (``point`` a full id, or a bare
  name of the replayed room);
- *wide*: a time column (``ts``, ``time``, ``date`` or ``timestamp``) and one column per point;
- the *UCI Occupancy Detection* files (wide, with an unnamed row-number column first and the
  columns Temperature, Humidity, Light, CO2, HumidityRatio, Occupancy).

Column names map to points by name, case-insensitively, with the aliases below (``Light`` is
illuminance); unknown columns are listed and ignored. Times are POSIX seconds or local times
(``2015-02-04 17:51:00``) read in the site's time zone. The trace drives the engine on its own
virtual time (hold timers fire between rows, in order) with no start-up settle, and the result
is every command for the replayed rooms with its reason, and totals per actuator.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from campus.model import Campus, PointSpec, ValueType
from campus.problems import CampusError
from campus.types import Command, Quality, Reading
from rules.engine import Engine
from rules.events import AlarmChanged, Transition
from rules.schema import Rule

ALIASES = {"light": "illuminance", "lux": "illuminance", "co2": "co2", "occupied": "occupancy"}
TIME_COLUMNS = ("ts", "time", "timestamp", "date", "datetime")


@dataclass
class Trace:
    readings: list[Reading]
    columns: dict[str, str]
    """CSV column -> point name it feeds."""
    ignored: list[str]
    rooms: list[str]
    """Rooms the trace has readings for."""


@dataclass
class ActuatorTotal:
    actuator: str
    commands: int = 0
    on_seconds: float = 0.0
    """Seconds a switch was on, or a level was above zero."""
    integral: float = 0.0
    """Value x seconds (levels), for the time-weighted mean."""


@dataclass
class ReplayResult:
    trace: Trace
    start: float
    end: float
    commands: list[Command] = field(default_factory=list)
    totals: dict[str, ActuatorTotal] = field(default_factory=dict)
    transitions: dict[str, int] = field(default_factory=dict)
    """Activations per rule."""
    alarms: int = 0
    occupied_seconds: float | None = None
    """Seconds the trace itself says the room was occupied (ground truth, where present)."""


def read_trace(path: Path, campus: Campus, room: str) -> Trace:
    """The readings of a trace file for `room` (bare names) or full point ids."""
    tz = ZoneInfo(campus.site.timezone)
    points = campus.points()
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise CampusError(f"{path}: cannot read the trace: {exc}") from exc
    if len(rows) < 2:
        raise CampusError(f"{path}: a trace needs a header line and at least one row")
    header = [h.strip() for h in rows[0]]
    lower = [h.lower() for h in header]
    if {"point", "value"} <= set(lower) and any(c in lower for c in TIME_COLUMNS):
        return _long(path, rows, lower, campus, room)
    if len(rows[1]) == len(header) + 1:
        header = ["row", *header]  # UCI: an unnamed row-number column first
        lower = ["row", *lower]
    time_col = next((i for i, h in enumerate(lower) if h in TIME_COLUMNS), None)
    if time_col is None:
        raise CampusError(
            f"{path}:1: no time column: name one ts, time, date or timestamp "
            "(or give columns ts, point, value)"
        )
    columns: dict[int, str] = {}
    ignored: list[str] = []
    for i, name in enumerate(lower):
        if i == time_col or name == "row":
            continue
        point = _point_for(name, points, room)
        if point is None:
            ignored.append(header[i])
        else:
            columns[i] = point
    if not columns:
        raise CampusError(f"{path}:1: no column names a point of {room}: {', '.join(header)}")
    readings: list[Reading] = []
    for line, row in enumerate(rows[1:], 2):
        if not row:
            continue
        ts = _time(row[time_col], tz, path, line)
        for i, point in columns.items():
            if i < len(row) and row[i].strip() != "":
                readings.append(_reading(point, row[i], ts, points[point].type, f"{path}:{line}"))
    named = {header[i]: p for i, p in columns.items()}
    return Trace(readings, named, ignored, sorted({p.rpartition(".")[0] for p in named.values()}))


def _long(path: Path, rows: list[list[str]], lower: list[str], campus: Campus, room: str) -> Trace:
    tz = ZoneInfo(campus.site.timezone)
    points = campus.points()
    t_col = next(lower.index(c) for c in TIME_COLUMNS if c in lower)
    p_col, v_col = lower.index("point"), lower.index("value")
    readings: list[Reading] = []
    specs = points
    used: dict[str, str] = {}
    for line, row in enumerate(rows[1:], 2):
        if not row:
            continue
        point = _point_for(row[p_col].strip().lower(), specs, room) or row[p_col].strip()
        spec = specs.get(point)
        if spec is None:
            raise CampusError(f"{path}:{line}: no point {row[p_col]!r} in the campus")
        used[row[p_col].strip()] = point
        ts = _time(row[t_col], tz, path, line)
        readings.append(_reading(point, row[v_col], ts, spec.type, f"{path}:{line}"))
    readings.sort(key=lambda r: r.ts)
    return Trace(readings, used, [], sorted({p.rpartition(".")[0] for p in used.values()}))


def _point_for(name: str, points: dict[str, PointSpec], room: str) -> str | None:
    if name in points:
        return name
    bare = ALIASES.get(name, name)
    full = f"{room}.{bare}"
    return full if full in points else None


def _time(text: str, tz: ZoneInfo, path: Path, line: int) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CampusError(
            f"{path}:{line}: time {text!r} is neither POSIX seconds nor like 2015-02-04 17:51:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def _reading(point: str, text: str, ts: float, kind: ValueType, where: str) -> Reading:
    word = text.strip().lower()
    if word in ("", "unknown", "unavailable", "null"):
        return Reading(point, None, ts, Quality.UNAVAILABLE)
    if kind is ValueType.BOOL:
        if word in ("1", "true", "on", "yes", "occupied", "1.0"):
            return Reading(point, True, ts)
        if word in ("0", "false", "off", "no", "vacant", "0.0"):
            return Reading(point, False, ts)
        raise CampusError(f"{where}: {point} is on/off, not {text!r}")
    try:
        number = float(word)
    except ValueError:
        raise CampusError(f"{where}: {point} is a number, not {text!r}") from None
    if not math.isfinite(number):
        return Reading(point, None, ts, Quality.UNAVAILABLE)
    return Reading(point, number, ts)


def replay(rules: list[Rule], campus: Campus, trace: Trace) -> ReplayResult:
    if not trace.readings:
        raise CampusError("the trace has no readings")
    start, end = trace.readings[0].ts, trace.readings[-1].ts
    result = ReplayResult(trace, start, end)
    rooms = set(trace.rooms)

    def listen(event: object) -> None:
        if isinstance(event, Transition) and event.room in rooms and event.new_state == "active":
            if event.old_state != "releasing":
                result.transitions[event.rule] = result.transitions.get(event.rule, 0) + 1
        elif isinstance(event, AlarmChanged) and event.alarm.room in rooms:
            raised = event.alarm.active and event.alarm.first_seen == event.alarm.last_seen
            result.alarms += 1 if raised else 0

    engine = Engine(campus, rules, start, settle=0.0, listener=listen)
    actuators = {a.id: a for r in campus.rooms if r.id in rooms for a in r.actuators.values()}
    state: dict[str, tuple[float, float]] = {}
    """actuator -> (value as a number, since)."""
    for command in _run(engine, trace):
        if command.actuator not in actuators:
            continue
        result.commands.append(command)
        _account(result, state, command.actuator, float(command.value), command.ts)
        result.totals[command.actuator].commands += 1
    for actuator, (value, _) in list(state.items()):
        _account(result, state, actuator, value, end)
    occupancy = [r for r in trace.readings if r.point.endswith(".occupancy")]
    if occupancy:
        result.occupied_seconds = sum(
            b.ts - a.ts for a, b in itertools.pairwise(occupancy) if a.value is True
        )
    for actuator in actuators:
        result.totals.setdefault(actuator, ActuatorTotal(actuator))
    return result


def _run(engine: Engine, trace: Trace) -> Iterator[Command]:
    yield from engine.advance(trace.readings[0].ts)
    for reading in trace.readings:
        yield from engine.on_reading(reading)
    yield from engine.advance(trace.readings[-1].ts)


def _account(
    result: ReplayResult,
    state: dict[str, tuple[float, float]],
    actuator: str,
    value: float,
    now: float,
) -> None:
    total = result.totals.setdefault(actuator, ActuatorTotal(actuator))
    previous = state.get(actuator)
    if previous is not None:
        old, since = previous
        span = max(0.0, now - since)
        total.integral += old * span
        if old > 0:
            total.on_seconds += span
    state[actuator] = (value, now)
