"""What the TUI knows of one site, rebuilt from the control plane's messages.

Every retained topic replaces its part of the picture whole (the campus description, a room, the
alarm list, the rules, the controller heartbeat); the event stream is appended, each event once
(by its id) and in time order with those fetched on opening. The payloads are
campus/wire.py's types, read forgivingly (`wire.decode`), so a TUI and a controller of different
versions still show what they share. Pure logic: no Textual, no MQTT.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from campus import wire
from campus.wire import Kind, parse_topic

MAX_EVENTS = 1000


@dataclass
class SiteState:
    """One site's picture. `apply` takes a parsed message and says what part changed."""

    site: str
    statuses: dict[str, bool] = field(default_factory=dict)
    """Each controller's status (online?) by its topic's rest: ``""``, or a shard's name when
    several controllers share the site (docs/scaling.md)."""
    controllers: dict[str, wire.ControllerMessage] = field(default_factory=dict)
    """Each controller's message, by the same key; `controller` is them merged."""
    controller: wire.ControllerMessage | None = None
    controller_received: float = 0.0
    """`monotonic()` when a controller message last arrived (to run the clock on)."""
    rooms: dict[str, wire.RoomSpec] = field(default_factory=dict)
    """Campus order."""
    buildings: dict[str, str] = field(default_factory=dict)
    """Building id -> name."""
    room_states: dict[str, wire.RoomState] = field(default_factory=dict)
    alarms: list[wire.Alarm] = field(default_factory=list)
    alarm_lists: dict[str, list[wire.Alarm]] = field(default_factory=dict)
    """Each retained alarm list by its topic's rest: ``""``, or a shard's name when several
    controllers share the site (docs/scaling.md); `alarms` is all of them."""
    rule_lists: dict[str, wire.RulesMessage] = field(default_factory=dict)
    """Each controller's rules summary, by the same key; `rules` is them merged."""
    rules: list[wire.RuleInfo] = field(default_factory=list)
    rule_problems: list[str] = field(default_factory=list)
    events: deque[wire.Event] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    """Oldest first, each once (`add_event`, `add_events`)."""
    event_keys: set[str | bytes] = field(default_factory=set)
    """The `event_key` of each event in `events`."""
    monotonic: Callable[[], float] = time.monotonic

    def apply(self, topic: str, payload: Any) -> Kind | None:
        """Take one message (JSON already parsed; the status topic as text)."""
        parsed = parse_topic(topic)
        if parsed is None or parsed.site != self.site:
            return None
        kind = parsed.kind
        if kind is Kind.STATUS:
            self.statuses[parsed.rest] = payload == "online"
        elif not isinstance(payload, dict):
            return None
        elif kind is Kind.CONTROLLER:
            self.controllers[parsed.rest] = wire.decode(wire.ControllerMessage, payload)
            self.controller = wire.merge_controllers(list(self.controllers.values()))
            self.controller_received = self.monotonic()
        elif kind is Kind.CAMPUS:
            self._campus(wire.decode(wire.CampusMessage, payload))
        elif kind is Kind.ROOM:
            state = wire.decode(wire.RoomState, payload)
            self.room_states[state.room] = state
        elif kind is Kind.ALARMS:
            self.alarm_lists[parsed.rest] = wire.decode(wire.AlarmsMessage, payload).alarms
            self.alarms = [a for kept in self.alarm_lists.values() for a in kept]
        elif kind is Kind.RULES:
            self.rule_lists[parsed.rest] = wire.decode(wire.RulesMessage, payload)
            merged = wire.merge_rules(list(self.rule_lists.values()))
            self.rules, self.rule_problems = merged.rules, merged.problems
        elif kind is Kind.EVENTS:
            event = wire.decode_event(payload)
            if event is None or not self.add_event(event):
                return None
        else:
            return None
        return kind

    def add_event(self, event: wire.Event) -> bool:
        """Keep a live event; False when it is already kept (fetched before it arrived)."""
        key = event_key(event)
        if key in self.event_keys:
            return False
        if len(self.events) == self.events.maxlen:
            self.event_keys.discard(event_key(self.events[0]))
        self.events.append(event)
        self.event_keys.add(key)
        return True

    def add_events(self, events: list[wire.Event]) -> None:
        """Events fetched on opening (the ``events`` request) merged with those seen live:
        each once, in time order."""
        merged = {event_key(e): e for e in [*events, *self.events]}
        self.events.clear()
        self.events.extend(sorted(merged.values(), key=lambda e: e.ts))
        self.event_keys = {event_key(e) for e in self.events}

    @property
    def online(self) -> bool | None:
        """Whether the site's controllers run: None until one is heard, False while any of
        them is offline."""
        if not self.statuses:
            return None
        return all(self.statuses.values())

    @property
    def offline_shards(self) -> list[str]:
        """The shards whose controller said (or whose last will said) it is offline."""
        return [name for name, up in self.statuses.items() if not up and name]

    def now(self) -> float | None:
        """The controller's clock now, run on from its last heartbeat at its speed."""
        info = self.controller
        if info is None:
            return None
        return info.now + (self.monotonic() - self.controller_received) * info.speed

    def alarms_in(self, room_id: str) -> list[wire.Alarm]:
        return [a for a in self.alarms if a.room == room_id]

    def _campus(self, message: wire.CampusMessage) -> None:
        self.rooms = {}
        for building in message.buildings:
            for room in building.rooms:
                room.building = room.building or building.id  # not sent before version 1.1
                self.rooms[room.id] = room
        self.buildings = {b.id: b.name or b.id for b in message.buildings}


def event_key(event: wire.Event) -> str | bytes:
    """What makes an event the same event: its id (its whole JSON from a controller too old to
    give one)."""
    return event.event_id or wire.encode(event)
