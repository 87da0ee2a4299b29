"""What the TUI knows of one site, rebuilt from the control plane's messages.

Every retained topic replaces its part of the picture whole (the campus description, a room, the
alarm list, the rules, the controller heartbeat); the event stream is appended. Parsing is
forgiving: a field a newer controller added is ignored and a missing one reads as unknown, so a
TUI and a controller of different versions still show what they share. Pure logic: no Textual,
no MQTT.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tui.topics import Kind, parse_topic

Json = dict[str, Any]
MAX_EVENTS = 1000


@dataclass(frozen=True, slots=True)
class PointSpec:
    name: str
    type: str
    unit: str
    stale_after: float | None


@dataclass(frozen=True, slots=True)
class ActuatorSpec:
    name: str
    type: str
    """``switch`` or ``level``."""
    unit: str
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class RoomSpec:
    id: str
    building: str
    key: str
    name: str
    kind: str
    capacity: int
    points: dict[str, PointSpec]
    actuators: dict[str, ActuatorSpec]


@dataclass(frozen=True, slots=True)
class PointState:
    value: float | bool | None
    unit: str
    ts: float | None
    quality: str
    """``good``, ``stale``, ``unavailable`` or ``none`` as the controller last saw it."""


@dataclass(frozen=True, slots=True)
class HolderState:
    slot: int
    level: str
    value: float | bool | None
    source: str
    reason: str
    since: float | None
    until: float | None


@dataclass(frozen=True, slots=True)
class ActuatorState:
    value: float | bool | None
    unit: str
    reported: float | bool | None
    online: bool
    holders: tuple[HolderState, ...]

    @property
    def winner(self) -> HolderState | None:
        return self.holders[0] if self.holders else None


@dataclass(frozen=True, slots=True)
class InstanceState:
    rule: str
    state: str
    since: float | None
    cause: str


@dataclass(frozen=True, slots=True)
class RoomState:
    ts: float
    points: dict[str, PointState]
    actuators: dict[str, ActuatorState]
    rules: tuple[InstanceState, ...]


@dataclass(frozen=True, slots=True)
class Alarm:
    id: str
    rule: str
    room: str
    severity: str
    message: str
    first_seen: float
    last_seen: float
    active: bool
    acknowledged_by: str | None


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: str
    description: str
    level: str
    enabled: bool
    rooms: tuple[str, ...]
    skipped: int
    sets: tuple[str, ...]
    alarm: str | None
    states: dict[str, int]
    transitions: tuple[Json, ...]
    file: str


@dataclass(frozen=True, slots=True)
class ControllerInfo:
    name: str
    timezone: str
    now: float
    speed: float
    received: float
    """`time.monotonic()` when the heartbeat arrived (to run the controller's clock on)."""
    readings: int
    commands: int


@dataclass
class SiteState:
    """One site's picture. `apply` takes a parsed message and says what part changed."""

    site: str
    online: bool | None = None
    """The controller's status topic: None until heard."""
    controller: ControllerInfo | None = None
    rooms: dict[str, RoomSpec] = field(default_factory=dict)
    """Campus order."""
    buildings: dict[str, str] = field(default_factory=dict)
    """Building id -> name."""
    room_states: dict[str, RoomState] = field(default_factory=dict)
    alarms: list[Alarm] = field(default_factory=list)
    alarm_lists: dict[str, list[Alarm]] = field(default_factory=dict)
    """Each retained alarm list by its topic's rest: ``""``, or a shard's name when several
    controllers share the site (docs/scaling.md); `alarms` is all of them."""
    rules: list[RuleInfo] = field(default_factory=list)
    rule_problems: list[str] = field(default_factory=list)
    events: deque[Json] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    monotonic: Callable[[], float] = time.monotonic

    def apply(self, topic: str, payload: Any) -> Kind | None:
        """Take one message (JSON already parsed; the status topic as text)."""
        parsed = parse_topic(topic)
        if parsed is None or parsed.site != self.site:
            return None
        kind = parsed.kind
        if kind is Kind.STATUS:
            self.online = payload == "online"
        elif not isinstance(payload, dict):
            return None
        elif kind is Kind.CONTROLLER:
            self.controller = _controller(payload, self.monotonic())
        elif kind is Kind.CAMPUS:
            self._campus(payload)
        elif kind is Kind.ROOM:
            self.room_states[str(payload.get("room", ""))] = _room_state(payload)
        elif kind is Kind.ALARMS:
            self.alarm_lists[parsed.rest] = [_alarm(a) for a in _list(payload.get("alarms"))]
            self.alarms = [a for kept in self.alarm_lists.values() for a in kept]
        elif kind is Kind.RULES:
            self.rules = [_rule(r) for r in _list(payload.get("rules"))]
            self.rule_problems = [str(p) for p in _list(payload.get("problems"))]
        elif kind is Kind.EVENTS:
            self.events.append(payload)
        else:
            return None
        return kind

    def add_events(self, events: list[Json]) -> None:
        """Older events fetched on opening, put before the live ones."""
        known = list(self.events)
        self.events.clear()
        self.events.extend([*events, *known])

    def now(self) -> float | None:
        """The controller's clock now, run on from its last heartbeat at its speed."""
        info = self.controller
        if info is None:
            return None
        return info.now + (self.monotonic() - info.received) * info.speed

    def alarms_in(self, room_id: str) -> list[Alarm]:
        return [a for a in self.alarms if a.room == room_id]

    def _campus(self, payload: Json) -> None:
        rooms: dict[str, RoomSpec] = {}
        buildings: dict[str, str] = {}
        for building in _list(payload.get("buildings")):
            building_id = str(building.get("id", ""))
            buildings[building_id] = str(building.get("name", building_id))
            for room in _list(building.get("rooms")):
                spec = _room_spec(room, building_id)
                rooms[spec.id] = spec
        self.rooms = rooms
        self.buildings = buildings


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _value(value: object) -> float | bool | None:
    if isinstance(value, bool):
        return value
    return _num(value)


def _controller(payload: Json, received: float) -> ControllerInfo:
    return ControllerInfo(
        name=str(payload.get("name", "")),
        timezone=str(payload.get("timezone", "UTC")),
        now=_num(payload.get("now")) or 0.0,
        speed=_num(payload.get("speed")) or 1.0,
        received=received,
        readings=int(_num(payload.get("readings")) or 0),
        commands=int(_num(payload.get("commands")) or 0),
    )


def _room_spec(room: Json, building: str) -> RoomSpec:
    points = {
        name: PointSpec(
            name, str(p.get("type", "number")), str(p.get("unit", "")), _num(p.get("stale_after"))
        )
        for name, p in _dict(room.get("points")).items()
        if isinstance(p, dict)
    }
    actuators: dict[str, ActuatorSpec] = {}
    for name, a in _dict(room.get("actuators")).items():
        if not isinstance(a, dict):
            continue
        low, high = [*_list(a.get("range")), 0.0, 100.0][:2]
        actuators[name] = ActuatorSpec(
            name, str(a.get("type", "level")), str(a.get("unit", "")), float(low), float(high)
        )
    return RoomSpec(
        id=str(room.get("id", "")),
        building=building,
        key=str(room.get("key", "")),
        name=str(room.get("name", "")),
        kind=str(room.get("kind", "")),
        capacity=int(_num(room.get("capacity")) or 0),
        points=points,
        actuators=actuators,
    )


def _room_state(payload: Json) -> RoomState:
    points = {
        name: PointState(
            _value(p.get("value")),
            str(p.get("unit", "")),
            _num(p.get("ts")),
            str(p.get("quality", "none")),
        )
        for name, p in _dict(payload.get("points")).items()
        if isinstance(p, dict)
    }
    actuators = {
        name: ActuatorState(
            _value(a.get("value")),
            str(a.get("unit", "")),
            _value(a.get("reported")),
            a.get("online") is not False,
            tuple(_holder(h) for h in _list(a.get("holders")) if isinstance(h, dict)),
        )
        for name, a in _dict(payload.get("actuators")).items()
        if isinstance(a, dict)
    }
    rules = tuple(
        InstanceState(
            str(i.get("rule", "")),
            str(i.get("state", "")),
            _num(i.get("since")),
            str(i.get("cause", "")),
        )
        for i in _list(payload.get("rules"))
        if isinstance(i, dict)
    )
    return RoomState(_num(payload.get("ts")) or 0.0, points, actuators, rules)


def _holder(h: Json) -> HolderState:
    return HolderState(
        slot=int(_num(h.get("slot")) or 17),
        level=str(h.get("level", "")),
        value=_value(h.get("value")),
        source=str(h.get("source", "")),
        reason=str(h.get("reason", "")),
        since=_num(h.get("since")),
        until=_num(h.get("until")),
    )


def _alarm(a: Json) -> Alarm:
    return Alarm(
        id=str(a.get("id", "")),
        rule=str(a.get("rule", "")),
        room=str(a.get("room", "")),
        severity=str(a.get("severity", "warning")),
        message=str(a.get("message", "")),
        first_seen=_num(a.get("first_seen")) or 0.0,
        last_seen=_num(a.get("last_seen")) or 0.0,
        active=a.get("active") is True,
        acknowledged_by=_text(a.get("acknowledged_by")),
    )


def _rule(r: Json) -> RuleInfo:
    states = {str(k): int(v) for k, v in _dict(r.get("states")).items() if _num(v) is not None}
    return RuleInfo(
        id=str(r.get("id", "")),
        description=str(r.get("description", "")),
        level=str(r.get("level", "")),
        enabled=r.get("enabled") is not False,
        rooms=tuple(str(x) for x in _list(r.get("rooms"))),
        skipped=len(_list(r.get("skipped"))),
        sets=tuple(str(x) for x in _list(r.get("sets"))),
        alarm=str(r["alarm"]) if isinstance(r.get("alarm"), str) else None,
        states=states,
        transitions=tuple(t for t in _list(r.get("transitions")) if isinstance(t, dict)),
        file=str(r.get("file", "")),
    )
