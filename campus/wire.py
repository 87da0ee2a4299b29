"""The control plane's wire contract: every topic under ``campusctl/<site>/`` and the JSON of
every payload, as typed dataclasses.

The controller builds these types and publishes `encode(...)` of them; the TUI, the district
view, the devices' fallback logic and scripts read them with `decode(Type, json)`. Nothing else
defines a control-plane topic or payload. One definition serves four ends: the producer (typed,
checked by mypy), the readers, the JSON Schemas (`schemas()`, shipped as
docs/controlplane.schema.json) and the field lists in docs/mqtt.md (`markdown_fields()`; a test
keeps both files equal to what this module says, ``python -m campus.wire`` rewrites them).

Decoding is forgiving, so that a reader and a controller of different versions still show what
they share: a field a newer controller added is ignored, a missing field or one of the wrong type
reads as its fallback (field metadata ``fallback``, else null, ``""``, 0, false or empty), and a
list item of the wrong shape is left out. Values of points and actuators are numbers or
booleans, null when unknown.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import orjson

from campus.yamlmodel import json_schema

PREFIX = "campusctl"
SCHEMA_VERSION = 1
"""In the campus message; bumped when a payload changes in a way an older reader would misread."""

Number = float | bool | None
"""A point's or actuator's value on the wire: a number or on/off; null when unknown."""

T = TypeVar("T")


def fallback(value: object) -> Any:
    """A field's value when a message lacks it or has it of the wrong type (decoding only:
    producers always write every field)."""
    return field(metadata={"fallback": value})


# -- topics ------------------------------------------------------------------------------------


class Kind(Enum):
    """The part of a topic after ``campusctl/<site>/``."""

    STATUS = "status"
    BRIDGE = "bridge"
    HEARTBEAT = "heartbeat"
    CONTROLLER = "controller"
    CAMPUS = "campus"
    ROOM = "room"
    ALARMS = "alarms"
    RULES = "rules"
    EVENTS = "events"
    SHARD = "shard"
    KPI = "kpi"
    REQUEST = "request"
    RESPONSE = "response"


@dataclass(frozen=True, slots=True)
class Topic:
    """A control-plane topic taken apart."""

    site: str
    kind: Kind
    rest: str
    """What follows the kind: ``main/r101`` for a room, a request's name, a shard's name."""


def parse_topic(topic: str) -> Topic | None:
    """``campusctl/<site>/<kind>[/<rest>]``, or None for anything else."""
    parts = topic.split("/", 3)
    if len(parts) < 3 or parts[0] != PREFIX:
        return None
    try:
        kind = Kind(parts[2])
    except ValueError:
        return None
    return Topic(parts[1], kind, parts[3] if len(parts) > 3 else "")


SITES_FILTER = f"{PREFIX}/+/{Kind.CONTROLLER.value}/#"
"""Every controller's message on a broker (shards' included): how readers find the sites."""


@dataclass(frozen=True, slots=True)
class Topics:
    """The topics of one site, ``campusctl/<site>/...``, as one controller writes them.

    `shard`: the controller's shard name when several share the site (docs/scaling.md); its
    own status, heartbeat, controller, rules and alarms topics then end in ``/<shard>``, so no
    shard overwrites another's and readers merge them (`merge_*` below, the devices' fallback
    per building). The campus description, rooms, events and requests are the site's.
    """

    site: str
    shard: str = ""

    @property
    def base(self) -> str:
        return f"{PREFIX}/{self.site}"

    @property
    def all(self) -> str:
        """The filter for everything of the site."""
        return f"{self.base}/#"

    def of(self, kind: Kind, rest: str = "") -> str:
        topic = f"{self.base}/{kind.value}"
        return f"{topic}/{rest}" if rest else topic

    def every(self, kind: Kind) -> str:
        """The filter for a per-controller kind from every shard (and an unsharded one)."""
        return f"{self.of(kind)}/#"

    @property
    def status(self) -> str:
        return self.of(Kind.STATUS, self.shard)

    @property
    def heartbeat(self) -> str:
        return self.of(Kind.HEARTBEAT, self.shard)

    @property
    def bridge(self) -> str:
        """The school broker's bridge to the district: ``1`` while the link is up, ``0`` when
        it is down (Mosquitto's notification topic, retained on both brokers;
        controller/district.py)."""
        return self.of(Kind.BRIDGE)

    @property
    def controller(self) -> str:
        return self.of(Kind.CONTROLLER, self.shard)

    @property
    def campus(self) -> str:
        return self.of(Kind.CAMPUS)

    @property
    def alarms(self) -> str:
        return self.of(Kind.ALARMS, self.shard)

    @property
    def kpi(self) -> str:
        return self.of(Kind.KPI, self.shard)

    @property
    def rules(self) -> str:
        return self.of(Kind.RULES, self.shard)

    @property
    def events(self) -> str:
        return self.of(Kind.EVENTS)

    @property
    def requests(self) -> str:
        """The filter a controller subscribes to."""
        return self.of(Kind.REQUEST, "+")

    def room(self, building: str, key: str) -> str:
        return self.of(Kind.ROOM, f"{building}/{key}")

    def claim(self, name: str) -> str:
        """Where shard `name` keeps its claim (``shard/<name>``)."""
        return self.of(Kind.SHARD, name)

    def claim_probe(self, name: str) -> str:
        """Where a starting controller echoes itself a message: once it is back, the retained
        claims sent before it have all arrived (controller/shard.py)."""
        return f"{self.base}/shard-probe/{name}"

    def claim_ping(self, name: str) -> str:
        """Where a starting controller asks whether the claim `name` is held by a live one."""
        return f"{self.base}/shard-probe/{name}/ping"

    def claim_pong(self, name: str) -> str:
        """Where a live claim holder answers (with the ping's payload)."""
        return f"{self.base}/shard-probe/{name}/pong"

    def request(self, name: str) -> str:
        return self.of(Kind.REQUEST, name)

    def response(self, name: str) -> str:
        return self.of(Kind.RESPONSE, name)


# -- the campus, as the controller loaded it (retained, QoS 1) -------------------------------


@dataclass(slots=True, kw_only=True)
class PointSpec:
    """A point of a room: what it measures and how it is judged."""

    name: str
    type: str = fallback("number")
    """``number`` or ``boolean``."""
    unit: str
    range: tuple[float, float] | None
    stale_after: float | None


@dataclass(slots=True, kw_only=True)
class ActuatorSpec:
    """An actuator of a room."""

    name: str
    type: str = fallback("level")
    """``switch`` or ``level``."""
    unit: str
    range: tuple[float, float] = fallback((0.0, 100.0))
    default: Number

    @property
    def low(self) -> float:
        return self.range[0]

    @property
    def high(self) -> float:
        return self.range[1]


@dataclass(slots=True, kw_only=True)
class RoomSpec:
    id: str
    building: str
    key: str
    name: str
    kind: str
    capacity: int
    points: dict[str, PointSpec]
    actuators: dict[str, ActuatorSpec]


@dataclass(slots=True, kw_only=True)
class BuildingSpec:
    id: str
    name: str
    rooms: list[RoomSpec]


@dataclass(slots=True, kw_only=True)
class SiteSpec:
    id: str
    name: str
    timezone: str = fallback("UTC")


@dataclass(slots=True, kw_only=True)
class CampusMessage:
    """``campus``: the campus as the controller loaded it, so readers need no campus.yaml."""

    version: int
    site: SiteSpec
    buildings: list[BuildingSpec]


# -- a room's state (retained, QoS 0, at most once per room per second) -------------------------


@dataclass(slots=True, kw_only=True)
class PointState:
    value: Number
    unit: str
    ts: float | None
    """When the last reading was taken (the controller's clock)."""
    age: float | None
    quality: str = fallback("none")
    """``good``, ``stale`` (no reading for `stale_after`), ``unavailable`` (the device said it
    is offline) or ``none`` (never heard from)."""


@dataclass(slots=True, kw_only=True)
class HolderState:
    """One slot of an actuator's priority array that holds a value."""

    slot: int = fallback(17)
    level: str
    value: Number
    source: str
    """``rule:<id>``, ``override:<user>`` or ``default``."""
    reason: str
    since: float | None
    until: float | None


@dataclass(slots=True, kw_only=True)
class ActuatorState:
    value: Number
    """The winning value of the priority array."""
    unit: str
    reported: Number
    """What the device last reported."""
    reported_ts: float | None
    online: bool = fallback(True)
    source: str
    slot: int = fallback(17)
    level: str
    reason: str
    since: float | None
    until: float | None
    holders: list[HolderState]
    """The whole priority array: the winner first, the relinquish default (slot 17) last."""

    @property
    def winner(self) -> HolderState | None:
        return self.holders[0] if self.holders else None


@dataclass(slots=True, kw_only=True)
class InstanceState:
    """A rule's instance in the room."""

    rule: str
    state: str
    since: float | None
    cause: str


@dataclass(slots=True, kw_only=True)
class RoomState:
    """``room/<building>/<room>``."""

    room: str
    ts: float
    points: dict[str, PointState]
    actuators: dict[str, ActuatorState]
    rules: list[InstanceState]


# -- alarms, rules, the controller ---------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Alarm:
    id: str
    """``rule@room``."""
    rule: str
    room: str
    severity: str = fallback("warning")
    message: str
    first_seen: float
    last_seen: float
    active: bool
    acknowledged_by: str | None
    acknowledged_at: float | None


@dataclass(slots=True, kw_only=True)
class AlarmsMessage:
    """``alarms`` (``alarms/<shard>`` from a shard): active alarms and cleared ones nobody
    acknowledged; readers merge every list of the site."""

    ts: float
    alarms: list[Alarm]


@dataclass(slots=True, kw_only=True)
class Skipped:
    room: str
    reason: str


@dataclass(slots=True, kw_only=True)
class TransitionEvent:
    """A rule instance changed state."""

    type: Literal["transition"] = "transition"
    event_id: str
    ts: float
    rule: str
    room: str
    old_state: str
    new_state: str
    cause: str


@dataclass(slots=True, kw_only=True)
class RuleInfo:
    id: str
    description: str
    level: str
    priority: int
    enabled: bool = fallback(True)
    rooms: list[str]
    skipped: list[Skipped]
    sets: list[str]
    """The actuator names it sets."""
    alarm: str | None
    """Its alarm's severity, if it raises one."""
    states: dict[str, int]
    """How many of its instances are in each state."""
    transitions: list[TransitionEvent]
    """Its last few transitions, newest last."""
    file: str


@dataclass(slots=True, kw_only=True)
class RulesMessage:
    """``rules``: every loaded rule, and the problems met loading them."""

    rules: list[RuleInfo]
    problems: list[str]


@dataclass(slots=True, kw_only=True)
class ControllerMessage:
    """``controller``: who runs the site and its clock, refreshed every `heartbeat` seconds."""

    site: str
    shard: str
    """The controller's shard ("" when one controller runs the whole site)."""
    name: str
    timezone: str = fallback("UTC")
    now: float
    """The controller's clock (faster than real time in a demo)."""
    speed: float = fallback(1.0)
    started: float
    rooms: int
    rules: int
    readings: int
    commands: int
    heartbeat: float


@dataclass(slots=True, kw_only=True)
class HeartbeatMessage:
    """``heartbeat``, for the devices' own fallback logic: the devices of `buildings` (empty:
    every building of the site) fall back when `fallback_after` of these are missed."""

    ts: float
    interval: float
    fallback_after: int
    buildings: list[str]


@dataclass(slots=True, kw_only=True)
class ShardClaim:
    """``shard/<name>``: a live shard's claim; an empty retained message when it stops."""

    shard: str
    buildings: list[str]
    client_id: str
    since: float


@dataclass(slots=True, kw_only=True)
class KpiMessage:
    """``kpi``: the site's day so far, once a minute of the controller's clock (controller.kpi).
    Minutes count room-minutes: a room occupied for an hour is 60. Shares are of the occupied
    minutes with a reading (null before any); energy is actuators' rated power × time on
    (a level: × its share of the range), sampled every minute."""

    site: str
    shard: str
    ts: float
    day: str
    """The site's local date, ``2026-12-07``: the counts start at its midnight."""
    rooms: int
    area_m2: float
    """The rooms' floor area (campus.yaml's `area`), for energy per m²."""
    rooms_in_use: int
    """Rooms whose occupancy reads true now."""
    occupied_minutes: int
    co2_minutes: int
    """Occupied minutes with a CO2 reading."""
    co2_within_1000_minutes: int
    co2_within_1400_minutes: int
    co2_within_1000: float | None
    """Share of `co2_minutes` at or below 1000 ppm (BB101's daily average for schools)."""
    co2_within_1400: float | None
    worst_room: str | None
    """The room with the highest CO2 now (null: no reading)."""
    worst_co2: float | None
    temperature_minutes: int
    temperature_comfort_minutes: int
    temperature_comfort: float | None
    """Share of `temperature_minutes` within 20-26 °C (EN 16798-1, category II)."""
    alarms: dict[str, int]
    """Active alarms by severity."""
    alarms_unacknowledged: int
    overrides: int
    overrides_over_4h: int
    """Overrides set more than four hours ago and still holding."""
    lights_kwh: float
    ventilation_kwh: float
    outside_timetable_kwh: float
    """Lights and ventilation energy used outside the day's timetable periods."""
    lights_kwh_last_week: float | None
    """The same weekday a week ago, by the same time of day (null: not known)."""
    ventilation_kwh_last_week: float | None
    uptime_s: float
    """Seconds of the controller's clock since it started."""


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def merge_kpis(messages: list[KpiMessage]) -> KpiMessage | None:
    """The site's KPIs from every shard's: counts and energy summed, shares of the sums, the
    worst room of all, the latest time and the shortest uptime."""
    if len(messages) <= 1:
        return messages[0] if messages else None

    def total(name: str) -> Any:
        return sum(getattr(m, name) for m in messages)

    def known(name: str) -> float | None:
        values = [getattr(m, name) for m in messages]
        return None if any(v is None for v in values) else sum(values)

    worst = max((m for m in messages if m.worst_co2 is not None), key=lambda m: m.worst_co2 or 0,
                default=None)  # fmt: skip
    alarms: dict[str, int] = {}
    for m in messages:
        for severity, count in m.alarms.items():
            alarms[severity] = alarms.get(severity, 0) + count
    co2, comfort = total("co2_minutes"), total("temperature_minutes")
    first = messages[0]
    return KpiMessage(
        site=first.site,
        shard="",
        ts=max(m.ts for m in messages),
        day=max(m.day for m in messages),
        rooms=total("rooms"),
        area_m2=total("area_m2"),
        rooms_in_use=total("rooms_in_use"),
        occupied_minutes=total("occupied_minutes"),
        co2_minutes=co2,
        co2_within_1000_minutes=total("co2_within_1000_minutes"),
        co2_within_1400_minutes=total("co2_within_1400_minutes"),
        co2_within_1000=share(total("co2_within_1000_minutes"), co2),
        co2_within_1400=share(total("co2_within_1400_minutes"), co2),
        worst_room=worst.worst_room if worst else None,
        worst_co2=worst.worst_co2 if worst else None,
        temperature_minutes=comfort,
        temperature_comfort_minutes=total("temperature_comfort_minutes"),
        temperature_comfort=share(total("temperature_comfort_minutes"), comfort),
        alarms=alarms,
        alarms_unacknowledged=total("alarms_unacknowledged"),
        overrides=total("overrides"),
        overrides_over_4h=total("overrides_over_4h"),
        lights_kwh=total("lights_kwh"),
        ventilation_kwh=total("ventilation_kwh"),
        outside_timetable_kwh=total("outside_timetable_kwh"),
        lights_kwh_last_week=known("lights_kwh_last_week"),
        ventilation_kwh_last_week=known("ventilation_kwh_last_week"),
        uptime_s=min(m.uptime_s for m in messages),
    )


# -- what readers merge when several shards run the site ---------------------------------------


def merge_controllers(messages: list[ControllerMessage]) -> ControllerMessage | None:
    """The site's controllers as one: counts summed, the latest clock, the earliest start."""
    if not messages:
        return None
    if len(messages) == 1:
        return messages[0]
    first = messages[0]
    return ControllerMessage(
        site=first.site,
        shard="",
        name=first.name,
        timezone=first.timezone,
        now=max(m.now for m in messages),
        speed=first.speed,
        started=min(m.started for m in messages),
        rooms=sum(m.rooms for m in messages),
        rules=max(m.rules for m in messages),
        readings=sum(m.readings for m in messages),
        commands=sum(m.commands for m in messages),
        heartbeat=min(m.heartbeat for m in messages),
    )


TRANSITIONS_SHOWN = 5
"""A merged rule keeps this many of its newest transitions."""


def merge_rules(messages: list[RulesMessage]) -> RulesMessage:
    """The site's rules from every shard's summary: each rule once, in first-seen order, its
    instance counts summed, its rooms, skipped rooms and newest transitions from all; disabled
    if any shard has it disabled (a request disables it in all)."""
    if len(messages) == 1:
        return messages[0]
    merged: dict[str, RuleInfo] = {}
    for message in messages:
        for rule in message.rules:
            kept = merged.get(rule.id)
            if kept is None:
                merged[rule.id] = dataclasses.replace(
                    rule,
                    rooms=list(rule.rooms),
                    skipped=list(rule.skipped),
                    states=dict(rule.states),
                    transitions=list(rule.transitions),
                )
                continue
            kept.enabled = kept.enabled and rule.enabled
            kept.rooms += [r for r in rule.rooms if r not in kept.rooms]
            kept.skipped += [s for s in rule.skipped if s not in kept.skipped]
            for state, count in rule.states.items():
                kept.states[state] = kept.states.get(state, 0) + count
            kept.transitions = sorted(kept.transitions + rule.transitions, key=lambda t: t.ts)[
                -TRANSITIONS_SHOWN:
            ]
    problems = list(dict.fromkeys(p for m in messages for p in m.problems))
    return RulesMessage(rules=list(merged.values()), problems=problems)


# -- the event stream (not retained) -------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class CommandEvent:
    """A command sent to an actuator, and why."""

    type: Literal["command"] = "command"
    event_id: str
    ts: float
    room: str
    actuator: str
    name: str
    value: Number
    source: str
    slot: int
    reason: str


@dataclass(slots=True, kw_only=True)
class AlarmEvent(Alarm):
    """An alarm raised, cleared or acknowledged: the alarm as it is now, with the event's
    own fields."""

    type: Literal["alarm"] = "alarm"
    event_id: str
    ts: float


AuditAction = Literal[
    "override",
    "release-override",
    "acknowledge-alarm",
    "enable-rule",
    "disable-rule",
    "reload-rules",
]


@dataclass(slots=True, kw_only=True)
class AuditEvent:
    """Someone changed something (who, what, on what in words)."""

    type: Literal["audit"] = "audit"
    event_id: str
    ts: float
    who: str
    action: str
    """One of `AuditAction`."""
    detail: str


Event = CommandEvent | TransitionEvent | AlarmEvent | AuditEvent
"""``events``: one per message; `type` says which. `event_id` is unique on the site and across
controller restarts (the shard, the controller's start and a count: ``b1:19ab3c4d5e6-17``), so a
reader merges by it what it fetched (the ``events`` request) and what it saw live."""


# -- requests and responses ----------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Response:
    """``response/<name>``: the answer to a request of that name. `transaction` is copied from
    the request (a client matches its answer by it)."""

    status: Literal["ok", "error"] = fallback("error")
    data: Any
    error: str | None
    transaction: str | int | None


@dataclass(slots=True, kw_only=True)
class EventsAnswer:
    """The `data` of the ``events`` request's answer: the most recent events, oldest first."""

    events: list[Event]


@dataclass(slots=True, kw_only=True)
class TrendsAnswer:
    """The `data` of the ``history`` request's answer: a room's points per minute."""

    room: str
    end: float
    step: float
    points: dict[str, list[float | None]]
    """Oldest first; null for a minute without a reading."""


MESSAGES: dict[Kind, Any] = {
    Kind.CONTROLLER: ControllerMessage,
    Kind.HEARTBEAT: HeartbeatMessage,
    Kind.CAMPUS: CampusMessage,
    Kind.ROOM: RoomState,
    Kind.ALARMS: AlarmsMessage,
    Kind.RULES: RulesMessage,
    Kind.EVENTS: Event,
    Kind.SHARD: ShardClaim,
    Kind.KPI: KpiMessage,
    Kind.RESPONSE: Response,
}
"""The payload type of each JSON topic (``status`` is plain text: ``online`` or ``offline``;
requests are described in docs/mqtt.md)."""


_TOPIC_RESTS = {
    Kind.ROOM: "/<building>/<room>",
    Kind.SHARD: "/<shard>",
    Kind.RESPONSE: "/<request>",
}


def topic_pattern(kind: Kind) -> str:
    """``campusctl/<site>/room/<building>/<room>``: the topics of a kind, in words (a shard's
    status, heartbeat, controller, rules and alarms add ``/<shard>``)."""
    return f"{PREFIX}/<site>/{kind.value}{_TOPIC_RESTS.get(kind, '')}"


# -- encoding and decoding -----------------------------------------------------------------------


def encode(message: object) -> bytes:
    """Compact UTF-8 JSON of a payload (dataclasses as objects, tuples as arrays, NaN as null);
    raises TypeError for what JSON cannot hold."""
    return orjson.dumps(message, default=_plain)


def _plain(value: object) -> object:
    """What orjson does not take itself: float subclasses (durations) as plain floats."""
    if isinstance(value, float):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def decode(tp: type[T], data: object) -> T:
    """`data` (parsed JSON) read as the message type `tp`, forgivingly (see the module
    docstring); a value that is not an object reads as a message of fallbacks. Events:
    `decode_event`."""
    return _reader(tp)(data)  # type: ignore[no-any-return]


class _Wrong(Exception):
    """A value of the wrong shape: its field takes its fallback, a list leaves it out."""


_MISSING = object()
_Reader = Callable[[Any], Any]
_READERS: dict[Any, _Reader] = {}


def _reader(tp: Any) -> _Reader:
    """The function that reads a value of type `tp` or raises _Wrong (a message: never)."""
    found = _READERS.get(tp)
    if found is None:
        found = _READERS[tp] = (
            _message_reader(tp) if dataclasses.is_dataclass(tp) else _value_reader(tp)
        )
    return found


def _message_reader(tp: Any) -> _Reader:
    hints = typing.get_type_hints(tp)
    fields = [
        (f.name, _value_reader(hints[f.name]), _fallback_of(f, hints[f.name]))
        for f in dataclasses.fields(tp)
    ]

    def read(value: object) -> Any:
        data = value if isinstance(value, dict) else {}
        kwargs = {}
        for name, read_field, default in fields:
            got = data.get(name, _MISSING)
            if got is _MISSING:
                kwargs[name] = default()
                continue
            try:
                kwargs[name] = read_field(got)
            except _Wrong:
                kwargs[name] = default()
        return tp(**kwargs)

    return read


def _fallback_of(f: dataclasses.Field[Any], tp: Any) -> Callable[[], Any]:
    if "fallback" in f.metadata:
        given = f.metadata["fallback"]
        return lambda: given
    if f.default is not dataclasses.MISSING:
        default = f.default
        return lambda: default
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in get_args(tp):
        return lambda: None
    if origin is list:
        return list
    if origin is dict:
        return dict
    if dataclasses.is_dataclass(tp):
        return lambda: _reader(tp)({})
    if tp is Any:
        return lambda: None
    zero = {str: "", int: 0, float: 0.0, bool: False}.get(tp)
    if zero is None and origin is not Literal:
        raise TypeError(f"{f.name}: no fallback for {tp}")
    first = get_args(tp)[0] if origin is Literal else zero
    return lambda: first


def _value_reader(tp: Any) -> _Reader:
    if dataclasses.is_dataclass(tp):
        read_message = _reader(tp)

        def message(value: object) -> Any:
            if not isinstance(value, dict):
                raise _Wrong
            return read_message(value)

        return message
    origin, args = get_origin(tp), get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return _union_reader(args)
    if origin is Literal:
        allowed = set(args)

        def literal(value: object) -> Any:
            if value not in allowed:
                raise _Wrong
            return value

        return literal
    if origin is list:
        item = _value_reader(args[0])

        def items(value: object) -> list[Any]:
            if not isinstance(value, list):
                raise _Wrong
            out = []
            for v in value:
                try:
                    out.append(item(v))
                except _Wrong:
                    continue
            return out

        return items
    if origin is dict:
        item = _value_reader(args[1])

        def mapping(value: object) -> dict[str, Any]:
            if not isinstance(value, dict):
                raise _Wrong
            out = {}
            for k, v in value.items():
                try:
                    out[str(k)] = item(v)
                except _Wrong:
                    continue
            return out

        return mapping
    if origin is tuple:
        parts = [_value_reader(a) for a in args]

        def fixed(value: object) -> tuple[Any, ...]:
            if not isinstance(value, list | tuple) or len(value) != len(parts):
                raise _Wrong
            return tuple(read(v) for read, v in zip(parts, value, strict=True))

        return fixed
    if tp is Any:
        return lambda value: value
    scalar = _SCALARS.get(tp)
    if scalar is None:
        raise TypeError(f"no reader for {tp}")
    return scalar


def _union_reader(args: tuple[Any, ...]) -> _Reader:
    tagged = {_tag(a): _reader(a) for a in args if dataclasses.is_dataclass(a)}
    if tagged:  # events: a message's `type` says which

        def by_tag(value: object) -> Any:
            if not isinstance(value, dict) or value.get("type") not in tagged:
                raise _Wrong
            return tagged[value["type"]](value)

        return by_tag
    readers = [_value_reader(a) for a in args]

    def first_fit(value: object) -> Any:
        for read in readers:
            try:
                return read(value)
            except _Wrong:
                pass
        raise _Wrong

    return first_fit


def _tag(tp: Any) -> str:
    hint = typing.get_type_hints(tp)["type"]
    return str(get_args(hint)[0])


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Wrong
    return value


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _Wrong
    return int(value)


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Wrong
    return float(value)


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Wrong
    return value


def _null(value: object) -> None:
    if value is not None:
        raise _Wrong


_SCALARS: dict[Any, _Reader] = {
    str: _text,
    int: _integer,
    float: _float,
    bool: _boolean,
    type(None): _null,
}


def decode_event(data: object) -> Event | None:
    """One event-stream message, or None when it is none of the known types."""
    try:
        return _reader(Event)(data)  # type: ignore[no-any-return]
    except _Wrong:
        return None


# -- JSON Schemas and docs/mqtt.md -----------------------------------------------------------


def schemas() -> dict[str, Any]:
    """One JSON Schema document with every payload under ``$defs`` and, for each JSON topic,
    ``topics``: its pattern and payload. Every field is required: a producer writes them all."""
    defs: dict[str, Any] = {}
    topics = {topic_pattern(kind): json_schema(tp, defs) for kind, tp in MESSAGES.items()}
    json_schema(EventsAnswer, defs)
    json_schema(TrendsAnswer, defs)
    for body in defs.values():
        if "properties" in body:
            body["required"] = list(body["properties"])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "campusctl control plane",
        "description": "Payloads of campusctl/<site>/... (campus/wire.py; docs/mqtt.md).",
        "version": SCHEMA_VERSION,
        "topics": topics,
        "$defs": defs,
    }


def markdown_fields() -> str:
    """The field table of every payload type, for docs/mqtt.md."""
    lines = ["| payload | fields |", "|---|---|"]
    seen: set[str] = set()
    for tp in _documented():
        if tp.__name__ in seen:
            continue
        seen.add(tp.__name__)
        hints = typing.get_type_hints(tp)
        cells = ", ".join(f"`{f.name}` {_type_text(hints[f.name])}" for f in dataclasses.fields(tp))
        lines.append(f"| `{tp.__name__}` | {cells} |")
    return "\n".join(lines) + "\n"


def _documented() -> list[Any]:
    """Every payload dataclass, each message before the types it contains."""
    out: list[Any] = []

    def visit(tp: Any) -> None:
        if dataclasses.is_dataclass(tp):
            if tp in out:
                return
            out.append(tp)
            for hint in typing.get_type_hints(tp).values():
                visit(hint)
        for arg in get_args(tp):
            visit(arg)

    for tp in (*MESSAGES.values(), EventsAnswer, TrendsAnswer):
        visit(tp)
    return out


def _type_text(tp: Any) -> str:
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return f"`{tp.__name__}`"
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return " or ".join(f'`"{a}"`' for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(a) for a in args)
    if origin is list:
        return f"list of {_type_text(args[0])}"
    if origin is dict:
        return f"object of {_type_text(args[1])}"
    if origin is tuple:
        return "[" + ", ".join(_type_text(a) for a in args) + "]"
    names = {str: "text", int: "integer", float: "number", bool: "boolean", type(None): "null"}
    return names.get(tp, "any")


SCHEMA_FILE = "docs/controlplane.schema.json"
FIELDS_BEGIN = "<!-- fields from campus/wire.py: python -m campus.wire -->"
FIELDS_END = "<!-- end of fields -->"


def write_docs(root: Path) -> None:
    """Rewrite docs/controlplane.schema.json and the field table in docs/mqtt.md."""
    (root / SCHEMA_FILE).write_text(json.dumps(schemas(), indent=2) + "\n")
    doc = root / "docs" / "mqtt.md"
    text = doc.read_text()
    start, end = text.index(FIELDS_BEGIN) + len(FIELDS_BEGIN), text.index(FIELDS_END)
    doc.write_text(text[:start] + "\n" + markdown_fields() + text[end:])


if __name__ == "__main__":
    write_docs(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
