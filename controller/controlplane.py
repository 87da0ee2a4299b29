"""The control plane: the controller's state and a request API on MQTT, for the TUI and tools.

An extension (controller.extension) on the MQTT driver's connection. It listens to the bus and
keeps ``campusctl/<site>/...`` up to date (docs/mqtt.md has every topic and payload):

- retained: the campus description, one state message per room, the alarm list, the rules
  with their instance counts and last transitions, and a controller heartbeat with the clock;
- a live event stream: commands with their reasons, rule transitions, alarm changes, audits;
- requests and responses (controller.controlplane_requests).

A room's state is published when something in it changed, at most once per
`ControlPlaneSettings.room_interval` wall seconds, so a flood of readings costs the broker one
message per room per interval, not one per reading. After a reconnect everything retained is
published again (a broker restarted without persistence has forgotten it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from campus.model import Room
from campus.problems import CampusError
from campus.types import Command, Reading
from controller.controlplane_history import History
from controller.controlplane_requests import RequestError, answer
from controller.controlplane_schema import (
    LastReading,
    Topics,
    alarm_payload,
    campus_payload,
    event_payload,
    room_payload,
    rules_payload,
)
from controller.events import Audit
from controller.runtime import Controller
from controller.shard import Shard, answers
from drivers.mqtt import MqttDriver
from rules.events import AlarmChanged, Transition

log = logging.getLogger("campusctl.controlplane")

TRANSITIONS_KEPT = 5
"""Last transitions kept per rule for the rules view."""


@dataclass(frozen=True, slots=True)
class ControlPlaneSettings:
    """Pacing of what the control plane publishes; times are wall-clock seconds."""

    room_interval: float = 1.0
    """At most one state message per room per this many seconds."""
    rules_interval: float = 2.0
    """At most one rules summary per this many seconds (it counts every instance)."""
    heartbeat: float = 5.0
    """How often the controller message (clock, counters) is refreshed."""
    tick: float = 0.1
    """How often pending publications are looked at."""
    max_rooms_per_tick: int = 2000
    """Room messages per tick at most, so a campus-wide change is spread over ticks."""
    history_minutes: int = 60
    staff: frozenset[str] = frozenset()
    """Who may send requests that change something (the ``user`` they name); empty: anyone
    the broker lets publish requests. Defence in depth behind the broker's ACL
    (docs/security.md)."""
    shard: Shard | None = None
    """A shard (controller.shard) publishes its owned rooms, the whole campus's description,
    and its alarms on ``alarms/<shard>`` so shards never overwrite each other's list."""

    def __post_init__(self) -> None:
        for name in ("room_interval", "rules_interval", "heartbeat", "tick"):
            if getattr(self, name) <= 0:
                raise CampusError(f"control plane: {name} must be positive")


class ControlPlane:
    """The control-plane extension; see the module docstring."""

    name = "controlplane"

    def __init__(self, settings: ControlPlaneSettings | None = None) -> None:
        self.settings = settings or ControlPlaneSettings()
        self.history = History(self.settings.history_minutes)
        self._controller: Controller | None = None
        self._driver: MqttDriver | None = None
        self._topics = Topics("")
        self._rooms: dict[str, Room] = {}
        self._room_topics: dict[str, str] = {}
        self._last: dict[str, LastReading] = {}
        self._dirty: dict[str, None] = {}
        self._published_at: dict[str, float] = {}
        self._rules_dirty = True
        self._rules_at = 0.0
        self._alarms_dirty = True
        self._heartbeat_at = 0.0
        self._transitions: dict[str, deque[dict[str, Any]]] = {}
        self._connected = False
        self._started_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def controller(self) -> Controller:
        if self._controller is None:
            raise CampusError("the control plane is not started")
        return self._controller

    @property
    def topics(self) -> Topics:
        return self._topics

    # -- Extension ----------------------------------------------------------------------------

    async def start(self, controller: Controller) -> None:
        driver = controller.driver("mqtt")
        if not isinstance(driver, MqttDriver):
            log.warning("no MQTT driver: the control plane (TUI, requests) is off")
            return
        self._controller = controller
        self._driver = driver
        self._topics = Topics(controller.campus.site.id)
        shard = self.settings.shard
        rooms = controller.campus.rooms if shard is None else shard.owned_rooms(controller.campus)
        self._rooms = {room.id: room for room in rooms}
        self._room_topics = {rid: self._topics.room(room) for rid, room in self._rooms.items()}
        self._started_at = controller.clock.now()
        bus = controller.bus
        bus.subscribe(Reading, self._on_reading)
        bus.subscribe(Command, self._on_event)
        bus.subscribe(Transition, self._on_event)
        bus.subscribe(AlarmChanged, self._on_event)
        bus.subscribe(Audit, self._on_event)
        driver.subscribe(self._topics.requests, self._on_request)
        self._task = asyncio.create_task(self._publisher(), name="controlplane")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        controller, driver = self._controller, self._driver
        if controller is None or driver is None:
            return
        bus = controller.bus
        bus.unsubscribe(Reading, self._on_reading)
        for kind in (Command, Transition, AlarmChanged, Audit):
            bus.unsubscribe(kind, self._on_event)
        with contextlib.suppress(CampusError):
            driver.unsubscribe(self._topics.requests)
        if driver.connected:
            self._flush_all()

    # -- what requests call back ----------------------------------------------------------------

    def authorise(self, user: str, request: str) -> None:
        """Refuse (RequestError) a changing request from a user not on the staff list."""
        staff = self.settings.staff
        if staff and user.strip() not in staff:
            log.warning("control plane: %s from %r refused: not on the staff list", request, user)
            raise RequestError(
                f"{user!r} may not {request}: not on this controller's staff list "
                "(campusctl run --staff)"
            )

    def touched(self, actuator_id: str) -> None:
        """An actuator's holders changed (override, release): publish its room at once."""
        room_id = actuator_id.rpartition(".")[0]
        if room_id in self._rooms:
            self._published_at.pop(room_id, None)
            self._dirty[room_id] = None

    def alarms_changed(self) -> None:
        self._alarms_dirty = True

    def rules_changed(self, rule_id: str | None) -> None:
        """A rule was enabled/disabled (or all reloaded: None): its rooms' states change."""
        self._rules_dirty = True
        self._rules_at = 0.0
        engine = self.controller.engine
        for info in engine.instances(rule_id=rule_id):
            self._dirty[info.room] = None

    # -- bus listeners (the controller's hot path: keep them short) ------------------------------

    def _on_reading(self, reading: Reading) -> None:
        point = reading.point
        last = self._last.get(point)
        if last is None:
            self._last[point] = LastReading(reading.value, reading.ts, reading.quality)
        else:
            last.value, last.ts, last.quality = reading.value, reading.ts, reading.quality
        self.history.add_reading(point, reading.ts, reading.value)
        self._dirty[point.rpartition(".")[0]] = None

    def _on_event(self, event: object) -> None:
        payload = event_payload(event)
        if payload is None:
            return
        self.history.add_event(payload)
        if isinstance(event, Command):
            self._dirty[payload["room"]] = None
        elif isinstance(event, Transition):
            self._dirty[event.room] = None
            self._rules_dirty = True
            kept = self._transitions.setdefault(event.rule, deque(maxlen=TRANSITIONS_KEPT))
            kept.append(payload)
        elif isinstance(event, AlarmChanged):
            self._alarms_dirty = True
        if self._driver is not None and self._driver.connected:
            self._driver.publish(self._topics.events, _dump(payload), qos=0)

    def _on_request(self, topic: str, payload: bytes) -> None:
        shard = self.settings.shard
        if shard is not None and not answers(shard, payload):
            return
        name = self._topics.request_name(topic)
        response = answer(self, name, payload)
        try:
            data = _dump(response)
        except (TypeError, ValueError) as exc:
            log.exception("control plane: the answer to %s is not JSON", name)
            error = f"internal error: the answer to {name} is not JSON ({exc})"
            failed = {"status": "error", "data": None, "error": error}
            if "transaction" in response:
                failed["transaction"] = response["transaction"]
            data = _dump(failed)
        if self._driver is not None:
            self._driver.publish(self._topics.response(name), data, qos=1)

    # -- publishing ------------------------------------------------------------------------------

    async def _publisher(self) -> None:
        tick = self.settings.tick
        while True:
            try:
                self._publish_due()
            except Exception:
                log.exception("control plane: publishing failed; trying again")
            await asyncio.sleep(tick)

    def _publish_due(self) -> None:
        driver = self._driver
        if driver is None:
            return
        connected = driver.connected
        if connected and not self._connected:
            self._connected = True
            self._flush_all()
            return
        self._connected = connected
        if not connected:
            return
        now = time.monotonic()
        settings = self.settings
        if now - self._heartbeat_at >= settings.heartbeat:
            self._publish_controller(now)
        if self._alarms_dirty:
            self._publish_alarms()
        if self._rules_dirty and now - self._rules_at >= settings.rules_interval:
            self._publish_rules(now)
        if self._dirty:
            self._publish_rooms(now, settings.room_interval, settings.max_rooms_per_tick)

    def _flush_all(self) -> None:
        """Everything retained, now (on connect, after a reconnect, on stop)."""
        driver = self._driver
        assert driver is not None
        now = time.monotonic()
        shard = self.settings.shard
        described = self.controller.campus if shard is None else shard.whole
        driver.publish(self._topics.campus, _dump(campus_payload(described)), 1, True)
        self._publish_controller(now)
        self._publish_alarms()
        self._publish_rules(now)
        self._dirty = dict.fromkeys(self._rooms)
        self._publish_rooms(now, 0.0, len(self._rooms))

    def _publish_controller(self, now: float) -> None:
        controller = self.controller
        clock = controller.clock
        payload = {
            "site": controller.campus.site.id,
            "name": controller.campus.site.name,
            "timezone": controller.campus.site.timezone,
            "now": clock.now(),
            "speed": clock.speed,
            "started": self._started_at,
            "rooms": len(self._rooms),
            "rules": len(controller.engine.rules),
            "readings": controller.readings,
            "commands": controller.commands,
            "heartbeat": self.settings.heartbeat,
        }
        self._publish(self._topics.controller, payload)
        self._heartbeat_at = now

    def _publish_alarms(self) -> None:
        controller = self.controller
        alarms = [alarm_payload(a) for a in controller.alarms]
        shard = self.settings.shard
        topic = self._topics.alarms if shard is None else f"{self._topics.alarms}/{shard.name}"
        self._publish(topic, {"ts": controller.clock.now(), "alarms": alarms})
        self._alarms_dirty = False

    def _publish_rules(self, now: float) -> None:
        controller = self.controller
        engine = controller.engine
        transitions = {rule: list(kept) for rule, kept in self._transitions.items()}
        problems = [str(p) for p in controller.rules.problems]
        payload = rules_payload(engine.rules, engine, engine.disabled, transitions, problems)
        self._publish(self._topics.rules, payload)
        self._rules_dirty = False
        self._rules_at = now

    def _publish_rooms(self, now: float, interval: float, budget: int) -> None:
        controller = self.controller
        clock_now = controller.clock.now()
        engine = controller.engine
        published_at = self._published_at
        for room_id in list(self._dirty):
            if budget <= 0:
                break
            if now - published_at.get(room_id, -interval) < interval:
                continue
            del self._dirty[room_id]
            room = self._rooms.get(room_id)
            if room is None:
                continue
            payload = room_payload(room, engine, self._last, clock_now)
            self._publish(self._room_topics[room_id], payload)
            published_at[room_id] = now
            budget -= 1

    def _publish(self, topic: str, payload: dict[str, Any]) -> None:
        assert self._driver is not None
        self._driver.publish(topic, _dump(payload), qos=1, retain=True)


def _dump(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
