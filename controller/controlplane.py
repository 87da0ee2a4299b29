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

Cost on the controller's hot path, where every reading of every point passes through
`_on_readings`: a reading costs a dict lookup of its room (points of rooms this controller does
not own are dropped there), a store of the reading itself, and marking the room changed. When
room messages go out is `RoomPacing`'s (controller.controlplane_pacing): small slices at every
tick of the controller (`Controller.every_tick`), which comes right after a pass of readings that
sent no command, or once the hot path has been quiet for a moment, giving way to readings.

QoS: alarm and audit events are published at QoS 1, so that a broker bridged to a district keeps
them for the link while it is down (docs/district.md); commands and transitions, many times
more, at QoS 0. What is retained is published at QoS 0 (the campus description, published once
per connection, excepted). A retained message is a state that the next one replaces, and every
one of them is published again after each reconnect (`_flush_all`), so QoS 1 would buy nothing
but a PUBACK to handle per message. On stop the final states go out at QoS 0 too: the MQTT
driver then publishes ``offline`` at QoS 1 and waits for its acknowledgement on the same
connection, and a broker handles one connection's packets in order, so that acknowledgement
means every state before it has been taken. Responses to requests stay QoS 1: a client is
waiting for that one message and nothing would send it again.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from campus import wire
from campus.model import Room
from campus.problems import CampusError
from campus.types import Command, Reading
from controller.controlplane_pacing import LATE, RoomPacing
from controller.controlplane_payloads import (
    RoomView,
    alarm_message,
    campus_message,
    event_id_prefix,
    event_message,
    rules_message,
)
from controller.controlplane_recent import MINUTE, Recent
from controller.controlplane_requests import RequestError, answer
from controller.events import Audit, Readings
from controller.roles import Role, Staff
from controller.runtime import TICK, Controller
from controller.shard import Shard, answers
from drivers.mqtt import MqttDriver
from rules.events import AlarmChanged, OverrideChanged, RulesChanged, Transition

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
    max_rooms_per_tick: int = 0
    """Room messages per tick at most; 0 (the default): automatic, a slice in proportion to the
    time since the previous tick that publishes every owned room once within 0.8 of
    `room_interval` (13 per 10 ms tick for 1,000 rooms, 1 for up to 80 rooms); see
    controller.controlplane_pacing."""
    ticking: bool = True
    """True: `publish_due` runs at every tick of the controller (`Controller.every_tick`: every
    `controller.runtime.TICK` while anything waits); False: only when called (the caller drives
    the ticks with its own times: tests, a host loop of its own)."""
    recent_minutes: int = 60
    staff: Staff | None = None
    """Who may send requests that change something (the ``user`` they name), by role and
    site (controller.roles); None: anyone the broker lets publish requests. Defence in depth
    behind the broker's ACL (docs/security.md)."""
    shard: Shard | None = None
    """A shard (controller.shard) publishes its owned rooms, the whole campus's description,
    and its own status, controller, rules and alarms on ``<kind>/<shard>`` (wire.Topics), so
    shards never overwrite each other's; readers merge them."""

    def __post_init__(self) -> None:
        for name in ("room_interval", "rules_interval", "heartbeat"):
            if getattr(self, name) <= 0:
                raise CampusError(f"control plane: {name} must be positive")
        if self.max_rooms_per_tick < 0:
            raise CampusError("control plane: max_rooms_per_tick must be 0 (automatic) or more")


class ControlPlane:
    """The control-plane extension; see the module docstring."""

    name = "controlplane"

    def __init__(self, settings: ControlPlaneSettings | None = None) -> None:
        self.settings = settings or ControlPlaneSettings()
        self._recent = Recent(self.settings.recent_minutes)
        self._subscriptions: list[Callable[[], None]] = []
        self._controller: Controller | None = None
        self._driver: MqttDriver | None = None
        self._topics = wire.Topics("")
        self._rooms: dict[str, Room] = {}
        self._views: dict[str, RoomView] = {}
        self._point_room: dict[str, str] = {}
        """Point id -> room id, for the points of the rooms this control plane publishes."""
        self._actuator_room: dict[str, str] = {}
        self._last: dict[str, Reading] = {}
        """The last reading of each point and actuator (its reported state)."""
        self._minute = (math.inf, -math.inf)
        """[start, end) of the clock minute of the newest reading; a reading outside it folds
        the last readings into `recent` first (`_fold`)."""
        self._unfolded_from = math.inf
        """Readings in `_last` from this clock time on may not be in `recent` yet."""
        self._pacing = RoomPacing((), interval=1.0, period=1.0)
        self._connects = -1
        """The driver's connection count when everything was last published."""
        self._rules_dirty = True
        self._rules_at = 0.0
        self._alarms_dirty = True
        self._heartbeat_at = 0.0
        self._transitions: dict[str, deque[wire.TransitionEvent]] = {}
        self._started_at = 0.0
        self._event_prefix = ""
        self._event_count = itertools.count(1)
        self._untick: Callable[[], None] = lambda: None
        self._pending_events: list[object] = []
        """Bus events not yet taken into `recent` (`_on_event`)."""
        self._unpublished: list[wire.Event] = []
        """Event messages in `recent` but not yet on the events topic."""
        self._events_seen = math.inf
        """When a tick first found events to publish and gave way to readings instead (inf:
        none since the last events went out)."""

    @property
    def controller(self) -> Controller:
        if self._controller is None:
            raise CampusError("the control plane is not started")
        return self._controller

    @property
    def topics(self) -> wire.Topics:
        return self._topics

    @property
    def recent(self) -> Recent:
        """The recent events and minute series, with every event raised so far (those the
        publisher has not published yet included)."""
        if self._pending_events:
            self._take_events()
        return self._recent

    # -- Extension ----------------------------------------------------------------------------

    async def start(self, controller: Controller) -> None:
        driver = controller.driver("mqtt")
        if not isinstance(driver, MqttDriver):
            log.warning("no MQTT driver: the control plane (TUI, requests) is off")
            return
        self._controller = controller
        self._driver = driver
        shard = self.settings.shard
        self._topics = wire.Topics(controller.campus.site.id, "" if shard is None else shard.name)
        rooms = controller.campus.rooms if shard is None else shard.owned_rooms(controller.campus)
        self._rooms = {room.id: room for room in rooms}
        self._views = {
            room.id: RoomView(room, self._topics.room(room.building, room.key)) for room in rooms
        }
        self._point_room = {p.id: room.id for room in rooms for p in room.points.values()}
        self._actuator_room = {a.id: room.id for room in rooms for a in room.actuators.values()}
        settings = self.settings
        self._pacing = RoomPacing(
            self._rooms,
            interval=settings.room_interval,
            period=TICK,
            per_tick=settings.max_rooms_per_tick,
        )
        self._started_at = controller.clock.now()
        self._event_prefix = event_id_prefix(self._topics.shard, time.time_ns())
        bus = controller.bus
        self._subscriptions = [
            bus.subscribe(Readings, self._on_readings),
            *(
                bus.subscribe(kind, self._on_event)
                for kind in (Command, Transition, AlarmChanged, Audit)
            ),
            bus.subscribe(OverrideChanged, self._on_override_changed),
            bus.subscribe(RulesChanged, self._on_rules_changed),
        ]
        staff = settings.staff
        if staff is not None and not staff.anyone_may_change(self._topics.site):
            log.warning(
                "the %s names no operator or author for site %s: every request that changes "
                "something will be refused",
                staff.source,
                self._topics.site,
            )
        driver.subscribe(self._topics.requests, self.handle_request)
        if self.settings.ticking:
            self._untick = controller.every_tick(self.publish_due)

    async def stop(self) -> None:
        self._untick()
        controller, driver = self._controller, self._driver
        if controller is None or driver is None:
            return
        for unsubscribe in self._subscriptions:
            unsubscribe()
        self._subscriptions = []
        self._publish_events()
        with contextlib.suppress(CampusError):
            driver.unsubscribe(self._topics.requests)
        if driver.connected:
            self._flush_all(time.monotonic(), rooms_now=True)

    # -- what requests call back ----------------------------------------------------------------

    def authorise(self, user: str, action: str, needs: Role) -> None:
        """Refuse (RequestError) `action` to a user whose role in this site is below `needs`."""
        staff = self.settings.staff
        if staff is None:
            return
        refusal = staff.refusal(user, self._topics.site, action, needs)
        if refusal is not None:
            log.warning("control plane: refused: %s", refusal)
            raise RequestError(refusal)

    def _on_override_changed(self, event: OverrideChanged) -> None:
        """An actuator's holders changed (override, release, expiry): publish its room at once."""
        room_id = self._actuator_room.get(event.actuator)
        if room_id is not None:
            self._pacing.urgent(room_id)
            self.controller.tick_soon()

    def _on_rules_changed(self, event: RulesChanged) -> None:
        """A rule was enabled/disabled (or all reloaded: None), whoever asked: the rules summary
        at once, and the states of its rooms."""
        self._rules_dirty = True
        self._rules_at = 0.0
        engine = self.controller.engine
        changed = self._pacing.changed
        for info in engine.instances(rule_id=event.rule):
            changed[info.room] = None
        self.controller.tick_soon()

    # -- bus listeners (the controller's hot path: keep them short) ------------------------------

    def _on_readings(self, batch: Readings) -> None:
        """Keep each reading as its point's last and mark its room changed: a dict store or
        two per reading. The minute series (`recent`: the last value of each minute) are not
        written here but folded from `_last` when a reading starts a new minute (`_fold`), so
        a point that reports every few seconds costs one series write a minute, not one a
        reading. A reading without a value (quality not good) folds its point first: the series
        keep the minute's last good value."""
        point_room, actuator_room = self._point_room, self._actuator_room
        last, changed = self._last, self._pacing.changed
        start, end = self._minute
        for message in batch.messages:
            if not message:
                continue
            ts = message[0].ts  # a driver stamps a message's readings with one time
            if not start <= ts < end:
                self._fold(ts)
                start, end = self._minute
            room_id = None
            for reading in message:
                point = reading.point
                room = point_room.get(point)
                if room is None:
                    room = actuator_room.get(point)
                    if room is None:
                        continue  # a room another shard publishes
                elif reading.value is None:
                    self._fold_point(point)
                last[point] = reading
                if room is not room_id:
                    changed[room] = None
                    room_id = room

    def _fold(self, ts: float) -> None:
        """Write the last readings not yet in `recent` into it, then make the minute of `ts` (a
        reading's time outside the current minute) the current one."""
        point_room, add, since = self._point_room, self._recent.add_reading, self._unfolded_from
        for point, reading in self._last.items():
            if reading.ts >= since and point in point_room:
                add(point, reading.ts, reading.value)
        minute_start = ts // MINUTE * MINUTE
        self._minute = (minute_start, minute_start + MINUTE)
        self._unfolded_from = minute_start

    def _fold_point(self, point: str) -> None:
        """Write one point's last reading into `recent` (again: a minute's slot is the last
        value written to it)."""
        reading = self._last.get(point)
        if reading is not None and point in self._point_room:
            self._recent.add_reading(point, reading.ts, reading.value)

    def series(self, point_id: str, now: float) -> list[float | None]:
        """A point's last reading of each of the last `recent_minutes` minutes up to clock time
        `now`, oldest first (None: no reading that minute)."""
        self._fold_point(point_id)
        return self._recent.series(point_id, now)

    def _on_event(self, event: object) -> None:
        """Keep a bus event for the events topic; the next tick publishes it, with the room
        messages of that tick in one write, once the hot path has been quiet for a moment
        (`controller.runtime.HOLD_OFF`) and no reading waits (for `LATE` of the room interval
        at most, as room messages): nothing is encoded or written between a command's
        write and the broker's delivery of it, and a burst's events cost one write, not one per
        loop pass (bench/README.md, campus load, item 12). Whoever reads `recent` meanwhile sees
        them."""
        self._pending_events.append(event)
        self.controller.tick_soon()

    def _take_events(self) -> None:
        """The pending bus events as event messages: ids in the order raised, into `recent`,
        their rooms and the rules and alarm summaries marked for publishing."""
        pending, self._pending_events = self._pending_events, []
        unpublished, changed = self._unpublished, self._pacing.changed
        for event in pending:
            message = event_message(event, f"{self._event_prefix}{next(self._event_count)}")
            if message is None:
                continue
            self._recent.add_event(message)
            if isinstance(message, wire.CommandEvent):
                changed[message.room] = None
            elif isinstance(message, wire.TransitionEvent):
                changed[message.room] = None
                self._rules_dirty = True
                kept = self._transitions.setdefault(message.rule, deque(maxlen=TRANSITIONS_KEPT))
                kept.append(message)
            elif isinstance(message, wire.AlarmEvent):
                self._alarms_dirty = True
            unpublished.append(message)

    def _publish_events(self) -> None:
        """Every event raised so far on the events topic (dropped while disconnected)."""
        if self._pending_events:
            self._take_events()
        unpublished, self._unpublished = self._unpublished, []
        driver = self._driver
        if driver is None or not driver.connected:
            return
        topic = self._topics.events
        for message in unpublished:
            qos = 1 if isinstance(message, wire.AlarmEvent | wire.AuditEvent) else 0
            driver.publish(topic, wire.encode(message), qos=qos)

    def handle_request(self, topic: str, payload: bytes) -> None:
        """Answer one request (the driver's callback for ``request/+``)."""
        shard = self.settings.shard
        if shard is not None and not answers(shard, payload):
            return
        name = topic.rpartition("/")[2]
        response = answer(self, name, payload)
        try:
            data = wire.encode(response)
        except (TypeError, ValueError) as exc:
            log.exception("control plane: the answer to %s is not JSON", name)
            error = f"internal error: the answer to {name} is not JSON ({exc})"
            failed = wire.Response(
                status="error", data=None, error=error, transaction=response.transaction
            )
            data = wire.encode(failed)
        if self._driver is not None:
            self._driver.publish(self._topics.response(name), data, qos=1)

    # -- publishing ------------------------------------------------------------------------------

    def publish_due(self, now: float | None = None) -> bool:
        """One tick: publish what is due at monotonic time `now` (default: now), everything
        retained after a (re)connect; the controller's ticks call it (`settings.ticking`).
        True while something waits for a later tick (rooms, events, the rules summary)."""
        driver = self._driver
        if driver is None or not driver.connected:
            return False
        now = time.monotonic() if now is None else now
        if self._pending_events or self._unpublished:
            # like room messages, events give way to readings waiting, for LATE at most
            self._events_seen = seen = min(self._events_seen, now)
            if now - seen >= LATE * self.settings.room_interval or not driver.input_waiting():
                self._publish_events()
                self._events_seen = math.inf
        if driver.stats.connects != self._connects:
            # (re)connected, however briefly it was down: the broker may have lost everything
            self._connects = driver.stats.connects
            self._flush_all(now, rooms_now=False)
        settings = self.settings
        if now - self._heartbeat_at >= settings.heartbeat:
            self._publish_controller(now)
        if self._alarms_dirty:
            self._publish_alarms()
        if self._rules_dirty and now - self._rules_at >= settings.rules_interval:
            self._publish_rules(now)
        self._pacing.tick(now, self._publish_room, driver.input_waiting)
        events = self._pending_events or self._unpublished
        return self._pacing.busy or self._rules_dirty or bool(events)

    def _flush_all(self, now: float, rooms_now: bool) -> None:
        """Everything retained: at once, but the rooms only with `rooms_now` (on stop); else
        (on connect, after a reconnect) the rooms are queued for the next ticks' slices."""
        driver = self._driver
        assert driver is not None
        shard = self.settings.shard
        described = self.controller.campus if shard is None else shard.whole
        driver.publish(self._topics.campus, wire.encode(campus_message(described)), 1, True)
        self._publish_controller(now)
        self._publish_alarms()
        self._publish_rules(now)
        if rooms_now:
            self._pacing.publish_all(now, self._publish_room)
        else:
            self._pacing.restart(now)

    def _publish_controller(self, now: float) -> None:
        controller = self.controller
        clock = controller.clock
        site = controller.campus.site
        message = wire.ControllerMessage(
            site=site.id,
            shard=self._topics.shard,
            name=site.name,
            timezone=site.timezone,
            now=clock.now(),
            speed=clock.speed,
            started=self._started_at,
            rooms=len(self._rooms),
            rules=len(controller.engine.rules),
            readings=controller.readings,
            commands=controller.commands,
            heartbeat=self.settings.heartbeat,
        )
        self._publish(self._topics.controller, message)
        self._heartbeat_at = now

    def _publish_alarms(self) -> None:
        controller = self.controller
        alarms = [alarm_message(a) for a in controller.alarms]
        message = wire.AlarmsMessage(ts=controller.clock.now(), alarms=alarms)
        self._publish(self._topics.alarms, message)
        self._alarms_dirty = False

    def _publish_rules(self, now: float) -> None:
        controller = self.controller
        engine = controller.engine
        transitions = {rule: list(kept) for rule, kept in self._transitions.items()}
        problems = [str(p) for p in controller.rules.problems]
        message = rules_message(engine.rules, engine, engine.disabled, transitions, problems)
        self._publish(self._topics.rules, message)
        self._rules_dirty = False
        self._rules_at = now

    def _publish_room(self, room_id: str) -> None:
        driver = self._driver
        assert driver is not None
        view = self._views[room_id]
        controller = self.controller
        message = view.message(controller.engine, self._last, controller.clock.now())
        driver.publish(view.topic, message, 0, True)

    def room_message(self, room_id: str, now: float) -> bytes:
        """One room's retained message as it would be published at clock time `now`."""
        return self._views[room_id].message(self.controller.engine, self._last, now)

    @property
    def pacing(self) -> RoomPacing:
        """When room messages go out (its counters, for tests and the soak)."""
        return self._pacing

    def last(self, point_id: str) -> Reading | None:
        """The last reading of a point, or the last state an actuator reported, in the rooms
        this plane publishes."""
        return self._last.get(point_id)

    def _publish(self, topic: str, message: object) -> None:
        assert self._driver is not None
        self._driver.publish(topic, wire.encode(message), qos=0, retain=True)
