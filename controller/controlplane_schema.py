"""The control plane's topics and JSON payloads (the contract docs/mqtt.md describes).

Pure functions from the controller's state to JSON-ready dicts, so the shapes can be read in one
place and tested without a broker. The TUI (tui/) parses these shapes on its own, without
importing this module: the two meet only on the wire.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from campus.model import ActuatorSpec, Campus, PointSpec, Room
from campus.types import Command, Quality, Value
from controller.events import Audit
from rules.alarms import Alarm
from rules.arbiter import Holder, slot_name
from rules.engine import Engine
from rules.events import AlarmChanged, Transition
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


@dataclass(slots=True)
class LastReading:
    """The last reading of a point or of an actuator's reported state."""

    value: Value | None
    ts: float
    quality: Quality


def json_value(value: object) -> Any:
    """A value as JSON takes it: UNKNOWN and NaN become null."""
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


def point_quality(spec: PointSpec, last: LastReading | None, now: float) -> str:
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
    room: Room, engine: Engine, last: dict[str, LastReading], now: float
) -> dict[str, Any]:
    """The retained state of one room: its points, its actuators and who holds them, and the
    state of every rule instance in it."""
    points: dict[str, Any] = {}
    for name, spec in room.points.items():
        seen = last.get(spec.id)
        points[name] = {
            "value": json_value(seen.value) if seen is not None else None,
            "unit": spec.unit,
            "ts": seen.ts if seen is not None else None,
            "age": round(now - seen.ts, 1) if seen is not None else None,
            "quality": point_quality(spec, seen, now),
        }
    actuators: dict[str, Any] = {}
    for name, actuator in room.actuators.items():
        holders = engine.holders(actuator.id)
        winner = holders[0]
        reported = last.get(actuator.id)
        actuators[name] = {
            "value": json_value(engine.actuator_value(actuator.id)),
            "unit": actuator.unit,
            "reported": json_value(reported.value) if reported is not None else None,
            "reported_ts": reported.ts if reported is not None else None,
            "online": reported is None or reported.quality is Quality.GOOD,
            "source": winner.source,
            "slot": winner.slot,
            "level": slot_name(winner.slot),
            "reason": winner.reason,
            "since": winner.since,
            "until": winner.until,
            "holders": [holder_payload(h) for h in holders],
        }
    instances = [
        {"rule": i.rule, "state": i.state.value, "since": i.since, "cause": i.cause}
        for i in engine.instances(room_id=room.id)
    ]
    return {
        "room": room.id,
        "ts": now,
        "points": points,
        "actuators": actuators,
        "rules": instances,
    }


def holder_payload(holder: Holder) -> dict[str, Any]:
    return {
        "slot": holder.slot,
        "level": slot_name(holder.slot),
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
    out = []
    for rule in rules:
        states: dict[str, int] = {}
        for info in engine.instances(rule_id=rule.id):
            states[info.state.value] = states.get(info.state.value, 0) + 1
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
                "states": states,
                "transitions": transitions.get(rule.id, []),
                "file": str(rule.pos),
            }
        )
    return {"rules": out, "problems": problems}
