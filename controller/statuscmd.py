"""`campusctl status [ROOM]`: the site, or one room, as the controller retains it on the broker.

Read from the retained control-plane messages (campus/wire.py), not asked of the controller:
a stopped or dead controller still shows its last picture, marked offline. The site view is
the controller, the staff overrides and the alarms, and the rooms whose sensors or devices are
not reporting; a room's view is its points, its actuators with every holder of their priority
arrays, its rule instances and its alarms.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

from campus import wire
from campus.problems import CampusError
from campus.text import age_text, clock_text, counted, source_text, value_text
from controller.controlclient import Session, add_client_arguments, controller_session
from controller.staff import did_you_mean

DAY = "%a %Y-%m-%d %H:%M"
QUALITY = {"none": "never heard from", "unavailable": "device offline"}
"""A point's quality in words where the wire's word is not enough."""


def add_status_command(commands: Any) -> None:
    status = commands.add_parser(
        "status",
        help="the site's controller, overrides and alarms, or one room's points, actuators "
        "(who holds them), rules and alarms",
        description="Show what the running controller retains on its broker: with no ROOM the "
        "site (controller, staff overrides, alarms, rooms whose sensors or devices are not "
        "reporting), with ROOM that room. Exit 2 when the site or the room is not found.",
    )
    status.add_argument("room", nargs="?", default=None, help="a room id like main.r101")
    add_client_arguments(status, changes=False)
    status.add_argument("--json", action="store_true", help="print the messages as JSON")
    status.set_defaults(func=cmd_status)


@dataclass(slots=True)
class Picture:
    """The site's retained messages, decoded."""

    campus: wire.CampusMessage | None
    alarms: list[wire.Alarm]
    rooms: list[wire.RoomState]
    spec: wire.RoomSpec | None = None
    """The room asked for (`campusctl status ROOM`)."""


def cmd_status(args: argparse.Namespace) -> int:
    with controller_session(args) as session:
        picture = read(session, args.room)
    if args.json:
        print(json.dumps(as_json(session, picture), indent=2, ensure_ascii=False))
        return 0
    lines = site_lines(session, picture) if args.room is None else room_lines(session, picture)
    print("\n".join(lines))
    return 0


def read(session: Session, room_id: str | None) -> Picture:
    """The alarms and every room's state; for `room_id`, the campus (where the room's topic is
    found) and that room's state."""
    topics = wire.Topics(session.site.id)
    first = [topics.every(wire.Kind.ALARMS)]
    if room_id is None:
        first.append(topics.every(wire.Kind.ROOM))
    messages = _decoded(session.client.retained(first))
    alarms = _alarms(messages)
    if room_id is None:
        rooms = _all(messages, wire.Kind.ROOM, wire.RoomState)
        return Picture(session.site.campus, alarms, sorted(rooms, key=lambda r: r.room))
    campus = session.site.read_campus(session.client)
    if campus is None:
        raise CampusError(
            f"site {session.site.id!r} has no campus description on {session.client.address}: "
            "has its controller ever run there?"
        )
    specs = {r.id: r for b in campus.buildings for r in b.rooms}
    spec = specs.get(room_id)
    if spec is None:
        hint = did_you_mean(room_id, specs)
        raise CampusError(f"no room {room_id!r} in site {session.site.id}{hint}")
    states = _all(
        _decoded(session.client.retained([topics.room(spec.building, spec.key)])),
        wire.Kind.ROOM,
        wire.RoomState,
    )
    return Picture(campus, [a for a in alarms if a.room == room_id], states, spec)


def _decoded(messages: dict[str, bytes]) -> list[tuple[wire.Kind, Any]]:
    out = []
    for name, payload in sorted(messages.items()):
        topic = wire.parse_topic(name)
        if topic is None:
            continue
        try:
            out.append((topic.kind, json.loads(payload)))
        except ValueError:
            continue
    return out


def _all(messages: list[tuple[wire.Kind, Any]], kind: wire.Kind, tp: type[Any]) -> list[Any]:
    return [wire.decode(tp, data) for k, data in messages if k is kind]


def _alarms(messages: list[tuple[wire.Kind, Any]]) -> list[wire.Alarm]:
    """Every shard's alarm list as one, active first, then by when they were first seen."""
    lists: list[wire.AlarmsMessage] = _all(messages, wire.Kind.ALARMS, wire.AlarmsMessage)
    merged = {a.id: a for message in lists for a in message.alarms}
    return sorted(merged.values(), key=lambda a: (not a.active, a.first_seen, a.id))


# -- text ------------------------------------------------------------------------------------


def site_lines(session: Session, picture: Picture) -> list[str]:
    site = session.site
    tz = site.timezone
    controller = site.controller
    named = controller.name if controller else picture.campus.site.name if picture.campus else ""
    name = f": {named}" if named else ""
    lines = [f"site {site.id}{name}, controller {_online(session)}"]
    if controller is not None:
        lines.append(
            f"clock {clock_text(controller.now, tz, DAY)} ({controller.timezone}, "
            f"x{controller.speed:g}); {counted(controller.rooms, 'room')}, "
            f"{counted(controller.rules, 'rule')}, {controller.readings} readings, "
            f"{controller.commands} commands"
        )
    now = _now(session, picture)
    overrides = [
        (room, name, actuator, holder)
        for room in picture.rooms
        for name, actuator in sorted(room.actuators.items())
        for holder in actuator.holders
        if holder.level == "override"
    ]
    lines.append(f"overrides ({len(overrides)}):" if overrides else "overrides: none")
    for room, name, actuator, holder in overrides:
        line = (
            f"  {room.room}.{name} {value_text(holder.value, actuator.unit)} by "
            f"{holder.source.partition(':')[2]} until {_when(holder.until, now, tz)}"
        )
        if actuator.winner is not holder:
            line += f" (outranked by {source_text(actuator.source)}, {actuator.level})"
        lines.append(line)
    lines += _alarm_lines(picture.alarms, now, tz)
    unwell = [(room.room, _problems(room)) for room in picture.rooms]
    unwell = [(room, problems) for room, problems in unwell if problems]
    rooms = f"rooms: {len(picture.rooms)}"
    if controller is not None and controller.rooms != len(picture.rooms):
        rooms += f" of {controller.rooms} published"
    if unwell:
        lines.append(f"{rooms}, {len(unwell)} with sensors or devices not reporting:")
        lines += [f"  {room}: {', '.join(problems)}" for room, problems in unwell]
    else:
        lines.append(f"{rooms}, every sensor and device reporting")
    return lines


def room_lines(session: Session, picture: Picture) -> list[str]:
    tz = session.site.timezone
    now = _now(session, picture)
    spec = picture.spec
    assert spec is not None
    lines = [
        f"{spec.id}: {spec.name} ({spec.kind}, {counted(spec.capacity, 'seat')}), "
        f"controller {_online(session)}"
    ]
    if not picture.rooms:
        return [*lines, "no state retained for this room (the controller publishes it on start)"]
    state = picture.rooms[0]
    lines[0] += f", state at {clock_text(state.ts, tz, '%H:%M:%S')}"
    width = max(map(len, [*state.points, *state.actuators]), default=0)
    lines.append("points:")
    for name, point in sorted(state.points.items()):
        value = value_text(point.value, point.unit, kind=name)
        age = "" if point.ts is None or now is None else f", {age_text(now - point.ts)} old"
        lines.append(f"  {name:<{width}}  {value:<9} {point.quality}{age}")
    lines.append("actuators:")
    for name, actuator in sorted(state.actuators.items()):
        value = value_text(actuator.value, actuator.unit)
        device = (
            f"device reports {value_text(actuator.reported, actuator.unit)}"
            if actuator.online
            else "device OFFLINE"
        )
        winner = actuator.winner
        held = f"by {_holder(winner, now, tz)}" if winner else "no holder"
        lines.append(f"  {name:<{width}}  {value:<9} {held}; {device}")
        for holder in actuator.holders[1:]:
            under = value_text(holder.value, actuator.unit)
            lines.append(
                f"  {'':<{width}}  {'':<9} under it: {under} by {_holder(holder, now, tz)}"
            )
    lines.append("rules:" if state.rules else "rules: none cover this room")
    for instance in state.rules:
        cause = f" ({instance.cause})" if instance.cause else ""
        since = _when(instance.since, now, tz)
        lines.append(f"  {instance.rule}: {instance.state} since {since}{cause}")
    return lines + _alarm_lines(picture.alarms, now, tz)


def _holder(holder: wire.HolderState, now: float | None, tz: str) -> str:
    """``alice (override), slot 8, until 09:01``, ``rule lights (comfort), slot 10``,
    ``default, slot 17``: who holds a slot of the priority array."""
    kind, _, name = holder.source.partition(":")
    who = {"override": f"{name} (override)", "rule": f"rule {name} ({holder.level})"}
    until = f", until {_when(holder.until, now, tz)}" if holder.until is not None else ""
    return f"{who.get(kind, holder.source)}, slot {holder.slot}{until}"


def _online(session: Session) -> str:
    site = session.site
    if not site.statuses:
        return "unknown (no status retained)"
    if site.online:
        return "online"
    offline = [topic.rsplit("/", 1)[-1] for topic, s in site.statuses.items() if s != "online"]
    if len(site.statuses) == 1:
        return "OFFLINE"
    return f"OFFLINE (shards: {', '.join(offline)})"


def _now(session: Session, picture: Picture) -> float | None:
    """The controller's time as near as the retained messages tell: the newest of its own
    message (every 5 s) and the rooms' states."""
    controller = session.site.controller
    known = [r.ts for r in picture.rooms] + ([controller.now] if controller else [])
    return max(known, default=None)


def _when(ts: float | None, now: float | None, tz: str) -> str:
    """``14:00`` today on the controller's clock, else ``Tue 2026-11-24 07:00``."""
    if ts is None:
        return "-"
    if now is not None and clock_text(ts, tz, "%Y-%m-%d") == clock_text(now, tz, "%Y-%m-%d"):
        return clock_text(ts, tz)
    return clock_text(ts, tz, DAY)


def _problems(room: wire.RoomState) -> list[str]:
    points = [
        f"{name} {QUALITY.get(point.quality, point.quality)}"
        for name, point in sorted(room.points.items())
        if point.quality != "good"
    ]
    devices = [
        f"{name} device offline"
        for name, actuator in sorted(room.actuators.items())
        if not actuator.online
    ]
    return points + devices


def _alarm_lines(alarms: list[wire.Alarm], now: float | None, tz: str) -> list[str]:
    if not alarms:
        return ["alarms: none"]
    active = sum(1 for a in alarms if a.active)
    lines = [f"alarms ({len(alarms)}, {active} active):"]
    for alarm in alarms:
        state = "active" if alarm.active else "cleared"
        ack = (
            f"acknowledged by {alarm.acknowledged_by}"
            if alarm.acknowledged_by
            else "not acknowledged"
        )
        lines.append(
            f"  {alarm.id} {alarm.severity}, {state} since {_when(alarm.first_seen, now, tz)}, "
            f"{ack}: {alarm.message}"
        )
    return lines


def as_json(session: Session, picture: Picture) -> Any:
    """What the text shows, as the wire's types: the site's controller and alarms, and the
    rooms' states (with ROOM: the room's description and state)."""
    site = session.site
    shown: dict[str, Any] = {
        "site": site.id,
        "online": site.online,
        "statuses": site.statuses,
        "controller": site.controller,
        "alarms": picture.alarms,
    }
    if picture.spec is None:
        shown["rooms"] = picture.rooms
    else:
        shown["room"] = picture.spec
        shown["state"] = picture.rooms[0] if picture.rooms else None
    return json.loads(wire.encode(shown))
