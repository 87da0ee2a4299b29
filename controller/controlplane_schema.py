"""The control plane's topics and JSON payloads (the contract docs/mqtt.md describes).

Pure functions from the controller's state to JSON-ready dicts, so the shapes can be read in one
place and tested without a broker. The TUI (tui/) parses these shapes on its own, without
importing this module: the two meet only on the wire.

Room states are the one payload on the controller's hot path (a 1,000-room campus under load
publishes about 1,000 a second), so `RoomView` works out a room's static parts once and encodes
with orjson, about ten times faster than the standard library's json. The JSON is the same
(json.loads gives equal values, keys in the same order); only the spelling of two things differs
from json.dumps: non-ASCII text is written as UTF-8 (``"°C"``, not ``"\\u00b0C"``; JSON text
is UTF-8 anyway) and floats below 1e-4 are spelled differently (``0.00005``, ``1e-7``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from campus.model import ActuatorSpec, Campus, PointSpec, Room
from campus.types import Command, Quality, Value
from controller.events import Audit
from rules.alarms import Alarm
from rules.arbiter import Holder, slot_name
from rules.engine import Engine
from rules.events import AlarmChanged, Transition
from rules.instance import State
from rules.schema import Rule
from rules.values import UNKNOWN

SCHEMA_VERSION = 1
"""Bumped when a payload changes in a way an older client would misread."""


@dataclass(frozen=True, slots=True)
class Topics:
    """Every control-plane topic of one site: ``campusctl/<site>/...``."""

    site: str

    @property
    def base(self) -> str:
        return f"campusctl/{self.site}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def controller(self) -> str:
        return f"{self.base}/controller"

    @property
    def campus(self) -> str:
        return f"{self.base}/campus"

    @property
    def alarms(self) -> str:
        return f"{self.base}/alarms"

    @property
    def rules(self) -> str:
        return f"{self.base}/rules"

    @property
    def events(self) -> str:
        return f"{self.base}/events"

    @property
    def requests(self) -> str:
        """The filter the controller subscribes to."""
        return f"{self.base}/request/+"

    def room(self, room: Room) -> str:
        return f"{self.base}/room/{room.building}/{room.key}"

    def request(self, name: str) -> str:
        return f"{self.base}/request/{name}"

    def response(self, name: str) -> str:
        return f"{self.base}/response/{name}"

    def request_name(self, topic: str) -> str:
        return topic.rsplit("/", 1)[-1]


class Seen(Protocol):
    """The last reading of a point or of an actuator's reported state (a `Reading`)."""

    @property
    def value(self) -> Value | None: ...
    @property
    def ts(self) -> float: ...
    @property
    def quality(self) -> Quality: ...


def json_value(value: object) -> Any:
    """A value as JSON takes it: UNKNOWN and NaN become null."""
    kind = value.__class__
    if kind is bool or (kind is float and value - value == 0.0):  # type: ignore[operator]
        return value  # the common case first: a bool or a finite float
    if value is UNKNOWN or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def campus_payload(campus: Campus) -> dict[str, Any]:
    """What the TUI needs to draw the campus without campus.yaml: rooms, points, actuators."""
    return {
        "version": SCHEMA_VERSION,
        "site": {
            "id": campus.site.id,
            "name": campus.site.name,
            "timezone": campus.site.timezone,
        },
        "buildings": [
            {
                "id": building.id,
                "name": building.name,
                "rooms": [_room_description(room) for room in building.rooms],
            }
            for building in campus.buildings
        ],
    }


def _room_description(room: Room) -> dict[str, Any]:
    return {
        "id": room.id,
        "key": room.key,
        "name": room.name,
        "kind": room.kind,
        "capacity": room.capacity,
        "points": {name: _point_description(p) for name, p in room.points.items()},
        "actuators": {name: _actuator_description(a) for name, a in room.actuators.items()},
    }


def _point_description(spec: PointSpec) -> dict[str, Any]:
    return {
        "type": spec.type.value,
        "unit": spec.unit,
        "range": list(spec.range) if spec.range is not None else None,
        "stale_after": spec.stale_after,
    }


def _actuator_description(spec: ActuatorSpec) -> dict[str, Any]:
    return {
        "type": spec.type.value,
        "unit": spec.unit,
        "range": list(spec.range),
        "default": spec.default,
    }


def point_quality(spec: PointSpec, last: Seen | None, now: float) -> str:
    """``good``, ``stale`` (no reading for `stale_after`), ``unavailable`` (device offline),
    or ``none`` (never heard from)."""
    if last is None:
        return "none"
    if last.quality is not Quality.GOOD:
        return "unavailable"
    if spec.stale_after is not None and now - last.ts > spec.stale_after:
        return "stale"
    return "good"


def room_payload(
    room: Room, engine: Engine, last: Mapping[str, Seen], now: float
) -> dict[str, Any]:
    """The retained state of one room: its points, its actuators and who holds them, and the
    state of every rule instance in it."""
    return RoomView(room, "").payload(engine, last, now)


GOOD = Quality.GOOD
_LEVELS: dict[int, str] = {}
"""slot_name of each slot seen (a dict lookup instead of a call per holder)."""
_STATES: dict[State, str] = {}
"""The text of each instance state seen (an enum's `.value` is a slow descriptor)."""


class RoomView:
    """One room's retained state message: `payload` is what `room_payload` describes, `message`
    its JSON. What never changes (ids, names, units, the topic) is looked up once, here."""

    __slots__ = ("actuators", "id", "points", "topic")

    def __init__(self, room: Room, topic: str) -> None:
        self.id = room.id
        self.topic = topic
        self.points = tuple((name, spec.id, spec.unit, spec) for name, spec in room.points.items())
        self.actuators = tuple((name, spec.id, spec.unit) for name, spec in room.actuators.items())

    def message(self, engine: Engine, last: Mapping[str, Seen], now: float) -> bytes:
        return orjson.dumps(self.payload(engine, last, now))

    def payload(self, engine: Engine, last: Mapping[str, Seen], now: float) -> dict[str, Any]:
        get = last.get
        points: dict[str, Any] = {}
        for name, point_id, unit, spec in self.points:
            seen = get(point_id)
            points[name] = {
                "value": json_value(seen.value) if seen is not None else None,
                "unit": unit,
                "ts": seen.ts if seen is not None else None,
                "age": round(now - seen.ts, 1) if seen is not None else None,
                "quality": point_quality(spec, seen, now),
            }
        actuators: dict[str, Any] = {}
        for name, actuator_id, unit in self.actuators:
            holders = [holder_payload(h) for h in engine.holders(actuator_id)]
            winner = holders[0]
            value = engine.actuator_value(actuator_id)
            reported = get(actuator_id)
            actuators[name] = {
                "value": json_value(value),
                "unit": unit,
                "reported": json_value(reported.value) if reported is not None else None,
                "reported_ts": reported.ts if reported is not None else None,
                "online": reported is None or reported.quality is GOOD,
                "source": winner["source"],
                "slot": winner["slot"],
                "level": winner["level"],
                "reason": winner["reason"],
                "since": winner["since"],
                "until": winner["until"],
                "holders": holders,
            }
        # engine.instances(room_id=...) without its snapshot (and dict copy) per instance
        found = engine.roster.instances
        instances = []
        for rule in engine.rules:
            instance = found.get((rule.id, self.id))
            if instance is not None:
                instances.append(
                    {
                        "rule": instance.rule.id,
                        "state": state_text(instance.state),
                        "since": instance.since,
                        "cause": instance.cause,
                    }
                )
        return {
            "room": self.id,
            "ts": now,
            "points": points,
            "actuators": actuators,
            "rules": instances,
        }


def state_text(state: State) -> str:
    text = _STATES.get(state)
    if text is None:
        text = _STATES[state] = state.value
    return text


def holder_payload(holder: Holder) -> dict[str, Any]:
    slot = holder.slot
    level = _LEVELS.get(slot)
    if level is None:
        level = _LEVELS[slot] = slot_name(slot)
    return {
        "slot": slot,
        "level": level,
        "value": json_value(holder.value),
        "source": holder.source,
        "reason": holder.reason,
        "since": holder.since,
        "until": holder.until,
    }


def event_payload(event: object) -> dict[str, Any] | None:
    """A bus event as an event-stream message, or None for events the stream does not carry.

    The stream carries commands (with their reasons), rule transitions, alarm changes and
    audits (who did what); `type` says which.
    """
    if isinstance(event, Command):
        room, _, name = event.actuator.rpartition(".")
        return {
            "type": "command",
            "ts": event.ts,
            "room": room,
            "actuator": event.actuator,
            "name": name,
            "value": event.value,
            "source": event.source,
            "slot": event.priority,
            "reason": event.reason,
        }
    if isinstance(event, Transition):
        return {
            "type": "transition",
            "ts": event.ts,
            "rule": event.rule,
            "room": event.room,
            "old_state": event.old_state,
            "new_state": event.new_state,
            "cause": event.cause,
        }
    if isinstance(event, AlarmChanged):
        return {"type": "alarm", "ts": event.alarm.last_seen, **alarm_payload(event.alarm)}
    if isinstance(event, Audit):
        return {
            "type": "audit",
            "ts": event.ts,
            "who": event.who,
            "action": event.action,
            "detail": event.detail,
        }
    return None


def alarm_payload(alarm: Alarm) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "rule": alarm.rule,
        "room": alarm.room,
        "severity": alarm.severity,
        "message": alarm.message,
        "first_seen": alarm.first_seen,
        "last_seen": alarm.last_seen,
        "active": alarm.active,
        "acknowledged_by": alarm.acknowledged_by,
        "acknowledged_at": alarm.acknowledged_at,
    }


def rules_payload(
    rules: list[Rule],
    engine: Engine,
    disabled: Collection[str],
    transitions: dict[str, list[dict[str, Any]]],
    problems: list[str],
) -> dict[str, Any]:
    """Every loaded rule: what it does, where, whether it is enabled, how many of its instances
    are in each state, and its last transitions (newest last)."""
    counts: dict[str, dict[State, int]] = {rule.id: {} for rule in rules}
    for instance in engine.live_instances():  # one pass, no snapshot per instance
        states = counts.get(instance.rule.id)
        if states is not None:
            states[instance.state] = states.get(instance.state, 0) + 1
    out = []
    for rule in rules:
        out.append(
            {
                "id": rule.id,
                "description": rule.description,
                "level": rule.level,
                "priority": rule.priority,
                "enabled": rule.id not in disabled,
                "rooms": list(rule.rooms),
                "skipped": [{"room": s.room, "reason": s.reason} for s in rule.skipped],
                "sets": [a.actuator for a in rule.actions],
                "alarm": rule.alarm.severity if rule.alarm is not None else None,
                "states": {state_text(s): n for s, n in counts[rule.id].items()},
                "transitions": transitions.get(rule.id, []),
                "file": str(rule.pos),
            }
        )
    return {"rules": out, "problems": problems}
