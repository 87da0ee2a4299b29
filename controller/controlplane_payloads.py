"""The control plane's payloads built from the controller's state: campus/wire.py's types.

Pure functions from the engine and the last readings to the wire contract's dataclasses, so the
shapes are defined once (campus/wire.py) and built here without a broker. Room states are the
one payload on the controller's hot path (a busy campus publishes one per room per second), so
`RoomView` works out a room's static parts once (bench/README.md, "Control plane") and builds
the message as dicts with the dataclasses' fields (tested against them).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from typing import Any, Protocol

from campus import wire
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


def campus_message(campus: Campus) -> wire.CampusMessage:
    """What a reader needs to draw the campus without campus.yaml: rooms, points, actuators."""
    return wire.CampusMessage(
        version=wire.SCHEMA_VERSION,
        site=wire.SiteSpec(id=campus.site.id, name=campus.site.name, timezone=campus.site.timezone),
        buildings=[
            wire.BuildingSpec(
                id=building.id,
                name=building.name,
                rooms=[_room_spec(room) for room in building.rooms],
            )
            for building in campus.buildings
        ],
    )


def _room_spec(room: Room) -> wire.RoomSpec:
    return wire.RoomSpec(
        id=room.id,
        building=room.building,
        key=room.key,
        name=room.name,
        kind=room.kind,
        capacity=room.capacity,
        points={name: _point_spec(name, p) for name, p in room.points.items()},
        actuators={name: _actuator_spec(name, a) for name, a in room.actuators.items()},
    )


def _point_spec(name: str, spec: PointSpec) -> wire.PointSpec:
    return wire.PointSpec(
        name=name,
        type=spec.type.value,
        unit=spec.unit,
        range=spec.range,
        stale_after=spec.stale_after,
    )


def _actuator_spec(name: str, spec: ActuatorSpec) -> wire.ActuatorSpec:
    return wire.ActuatorSpec(
        name=name, type=spec.type.value, unit=spec.unit, range=spec.range, default=spec.default
    )


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


GOOD = Quality.GOOD
_LEVELS: dict[int, str] = {}
"""slot_name of each slot seen (a dict lookup instead of a call per holder)."""
_STATES: dict[State, str] = {}
"""The text of each instance state seen (an enum's `.value` is a slow descriptor)."""


class RoomView:
    """One room's retained state message (`message`): its points, its actuators and who holds
    them, and the state of every rule instance in it. What never changes (ids, names, units,
    the topic) is looked up once, here.

    `message` builds the JSON from dicts with the fields of `wire.RoomState`, in their order,
    not from the dataclasses: it runs for every room message a busy campus publishes (one per
    room a second), and building the dataclasses took twice its time (bench/README.md, campus
    load, item 14). tests/controlplane/test_payloads.py compares it with a reference payload on
    random histories and checks its fields against the dataclasses'."""

    __slots__ = ("actuators", "id", "points", "topic")

    def __init__(self, room: Room, topic: str) -> None:
        self.id = room.id
        self.topic = topic
        self.points = tuple((name, spec.id, spec.unit, spec) for name, spec in room.points.items())
        self.actuators = tuple((name, spec.id, spec.unit) for name, spec in room.actuators.items())

    def message(self, engine: Engine, last: Mapping[str, Seen], now: float) -> bytes:
        get = last.get
        points: dict[str, dict[str, Any]] = {}
        for name, point_id, unit, spec in self.points:
            seen = get(point_id)
            if seen is None:
                points[name] = {
                    "value": None,
                    "unit": unit,
                    "ts": None,
                    "age": None,
                    "quality": "none",
                }
            else:
                points[name] = {
                    "value": json_value(seen.value),
                    "unit": unit,
                    "ts": seen.ts,
                    "age": round(now - seen.ts, 1),
                    "quality": point_quality(spec, seen, now),
                }
        actuators: dict[str, dict[str, Any]] = {}
        for name, actuator_id, unit in self.actuators:
            holders = [_holder(h) for h in engine.holders(actuator_id)]
            winner = holders[0]
            reported = get(actuator_id)
            actuators[name] = {
                "value": json_value(engine.actuator_value(actuator_id)),
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
        return wire.encode(
            {
                "room": self.id,
                "ts": now,
                "points": points,
                "actuators": actuators,
                "rules": instances,
            }
        )


def state_text(state: State) -> str:
    text = _STATES.get(state)
    if text is None:
        text = _STATES[state] = state.value
    return text


def _holder(holder: Holder) -> dict[str, Any]:
    """A holder in a room's message: `wire.HolderState`'s fields (`RoomView.message`)."""
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


def event_id_prefix(shard: str, started_ns: int) -> str:
    """What the ids of one controller process's events start with: its shard and its start in
    wall-clock milliseconds (not the controller's clock: a demo's clock starts at the same
    moment on every run), so ids stay unique across restarts and shards; a count follows."""
    start = f"{started_ns // 1_000_000:x}"
    return f"{shard}:{start}-" if shard else f"{start}-"


def event_message(event: object, event_id: str) -> wire.Event | None:
    """A bus event as an event-stream message with the id given, or None for events the stream
    does not carry.

    The stream carries commands (with their reasons), rule transitions, alarm changes and
    audits (who did what).
    """
    if isinstance(event, Command):
        room, _, name = event.actuator.rpartition(".")
        return wire.CommandEvent(
            event_id=event_id,
            ts=event.ts,
            room=room,
            actuator=event.actuator,
            name=name,
            value=event.value,
            source=event.source,
            slot=event.priority,
            reason=event.reason,
        )
    if isinstance(event, Transition):
        return wire.TransitionEvent(
            event_id=event_id,
            ts=event.ts,
            rule=event.rule,
            room=event.room,
            old_state=event.old_state,
            new_state=event.new_state,
            cause=event.cause,
        )
    if isinstance(event, AlarmChanged):
        alarm = alarm_message(event.alarm)
        fields = {f.name: getattr(alarm, f.name) for f in dataclasses.fields(alarm)}
        return wire.AlarmEvent(event_id=event_id, ts=alarm.last_seen, **fields)
    if isinstance(event, Audit):
        return wire.AuditEvent(
            event_id=event_id, ts=event.ts, who=event.who, action=event.action, detail=event.detail
        )
    return None


def alarm_message(alarm: Alarm) -> wire.Alarm:
    return wire.Alarm(
        id=alarm.id,
        rule=alarm.rule,
        room=alarm.room,
        severity=alarm.severity,
        message=alarm.message,
        first_seen=alarm.first_seen,
        last_seen=alarm.last_seen,
        active=alarm.active,
        acknowledged_by=alarm.acknowledged_by,
        acknowledged_at=alarm.acknowledged_at,
    )


def rules_message(
    rules: list[Rule],
    engine: Engine,
    disabled: Collection[str],
    transitions: dict[str, list[wire.TransitionEvent]],
    problems: list[str],
) -> wire.RulesMessage:
    """Every loaded rule: what it does, where, whether it is enabled, how many of its instances
    are in each state, and its last transitions (newest last)."""
    counts: dict[str, dict[State, int]] = {rule.id: {} for rule in rules}
    for instance in engine.live_instances():  # one pass, no snapshot per instance
        states = counts.get(instance.rule.id)
        if states is not None:
            states[instance.state] = states.get(instance.state, 0) + 1
    return wire.RulesMessage(
        rules=[
            wire.RuleInfo(
                id=rule.id,
                description=rule.description,
                level=rule.level,
                priority=rule.priority,
                enabled=rule.id not in disabled,
                rooms=list(rule.rooms),
                skipped=[wire.Skipped(room=s.room, reason=s.reason) for s in rule.skipped],
                sets=[a.actuator for a in rule.actions],
                alarm=rule.alarm.severity if rule.alarm is not None else None,
                states={state_text(s): n for s, n in counts[rule.id].items()},
                transitions=transitions.get(rule.id, []),
                file=str(rule.pos),
            )
            for rule in rules
        ],
        problems=problems,
    )
