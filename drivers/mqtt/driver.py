"""The MQTT driver: campus bindings in, `Reading` batches out; `Command`s in, device payloads out.

    async with MqttDriver(campus, MqttSettings(url="mqtt://127.0.0.1:1883"), clock) as driver:
        driver.send(command)
        batch = await driver.readings.get()

The network side lives in `Connection` (paho driven by the event loop, see its docstring for why
no thread); this module is what the campus means on the wire: the topic index, decoding into
readings, commands that survive an outage, extra subscriptions for the control plane.

Commands are never dropped because the connection is busy or down. At most `COMMAND_WINDOW`
QoS 1 commands are in flight (published, not yet acknowledged); the rest wait in the driver in
the order they were decided and go out as acknowledgements free the window, or after a
reconnect once paho has re-sent what was in flight when it dropped. While connected every
command goes out, in order, however slow the broker's acknowledgements: which commands a
device receives does not depend on timing. Commands that waited through an outage are reduced,
when the connection returns, to the latest per actuator (an hour of on/off decisions is not
replayed to a device; the one it gets is the latest the controller decided), and so is the
queue whenever it outgrows `WAITING_PER_ACTUATOR` commands per actuator; each one dropped so is
counted in `stats.commands_superseded`. (Left to paho, a full window queued commands in paho
behind every queued message, and paho refused more beyond `max_queued`: commands were lost at
start-up on a campus of 10,000 rooms.)
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from paho.mqtt.client import topic_matches_sub
from paho.mqtt.enums import MQTTErrorCode

from campus import wire
from campus.clock import Clock
from campus.model import ActuatorSpec, Campus, PayloadFormat
from campus.problems import DriverError
from campus.types import Batch, Command, Quality, Reading
from drivers.mqtt.codec import (
    Target,
    decode_availability,
    decode_state,
    encode_command,
    sensor_readings,
)
from drivers.mqtt.connection import Connection
from drivers.mqtt.errors import PayloadError, show_payload
from drivers.mqtt.keywatch import KeyWatch
from drivers.mqtt.routes import Route, build_routes
from drivers.mqtt.settings import MqttSettings
from drivers.mqtt.stats import MqttStats
from drivers.mqtt.throttle import LogThrottle

log = logging.getLogger("campusctl.mqtt")

MATCH_CACHE = 100_000
"""Topics whose matching extra filters are remembered (a campus has a few per room)."""
COMMAND_WINDOW = 400
"""QoS 1 commands in flight at once; below paho's in-flight window (`connection.MAX_INFLIGHT`),
so the control plane's QoS 1 messages never queue commands inside paho. Commands go out at most
at this many per acknowledgement round trip, which grows when the broker is busy: a window of
64 held 1,250 commands/s only while the round trip stayed under 51 ms (bench/README.md,
"campusctl changes measured in this round", item 11)."""
WAITING_PER_ACTUATOR = 4
"""Waiting commands beyond this many per actuator (at least 1,024 in all) are reduced to the
latest per actuator: the queue stays bounded by the campus's size."""
MessageCallback = Callable[[str, bytes], None]
"""An extra subscription's callback: (topic, payload), called on the event loop."""


class MqttDriver:
    """Reads every MQTT-bound point of a campus and commands its MQTT-bound actuators.

    - `readings`: batches (`campus.types.Batch`): the readings of each device message, one
      list per message, in arrival order, stamped with `clock.now()` on arrival. A point's reading
      carries the point id; an actuator's reported state carries the actuator id. A device going
      offline yields one UNAVAILABLE reading (value None) per point and actuator on it.
    - `send`, `publish`: non-blocking and callable from any thread.
    - `subscribe`: extra topic filters (control plane), re-subscribed on every reconnect.
    - `stats`: counters; `problems`: bindings that were left out, with why.

    Retained state messages, which the broker replays on every (re)subscribe, are read like live
    ones and stamped on arrival. Losing the broker yields no readings (points go stale through
    their `stale_after`); `connected` and `stats` say so. `readings` is unbounded: consume it.
    """

    name = "mqtt"

    def __init__(self, campus: Campus, settings: MqttSettings, clock: Clock) -> None:
        site = campus.site.id
        self.settings = settings
        self.stats = MqttStats()
        self.readings: asyncio.Queue[Batch] = asyncio.Queue()
        self._clock = clock
        self._table = build_routes(campus)
        self._routes: dict[str, Route] = self._table.routes
        self._keywatch = KeyWatch(settings.missing_key_warn_after)
        self._throttle = LogThrottle(log, settings.bad_payload_log_interval)
        self._batch: Batch = []
        self._sink: Callable[[Batch], None] | None = None
        self._waiting: deque[tuple[str, str, bytes, int]] = deque()
        """Commands not yet handed to the connection (actuator, topic, payload, QoS), in the
        order they were decided."""
        self._waiting_limit = max(1024, WAITING_PER_ACTUATOR * len(self._table.actuators))
        self._in_flight: set[int] = set()
        """Message ids of QoS 1 commands published and not yet acknowledged."""
        self._pump_due = False
        self._outbox: deque[tuple[str, bytes, int, bool]] = deque()
        self._extra: dict[str, list[MessageCallback]] = {}
        self._matches: dict[str, list[str]] = {}
        """Topic -> the extra filters it matches: paho's topic_matches_sub builds a matcher
        tree on every call, which cost more than decoding the message; filters change rarely."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._closed = False
        self._conn = Connection(
            settings,
            client_id=settings.client_id or f"campusctl-{site}-{secrets.token_hex(4)}",
            status_topic=settings.status_topic or wire.Topics(site).status,
            stats=self.stats,
            on_message=self._on_message,
            on_connected=self._on_connected,
            on_read_done=self._hand_over,
            on_acknowledged=self._acknowledged,
        )

    @property
    def problems(self) -> list[str]:
        """Bindings left out of the topic index, each with the reason."""
        return list(self._table.problems)

    @property
    def topics(self) -> list[str]:
        """The device topics the driver subscribes to."""
        return self._table.topics

    @property
    def status_topic(self) -> str:
        return self._conn.status_topic

    @property
    def client_id(self) -> str:
        return self._conn.client_id

    @property
    def connected(self) -> bool:
        return self._conn.connected

    def input_waiting(self) -> bool:
        """Whether messages from the broker wait to be read (see `Connection.input_waiting`);
        call on the event loop."""
        return self._conn.input_waiting()

    async def __aenter__(self) -> MqttDriver:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        for problem in self._table.problems:
            log.error("MQTT binding problem: %s", problem)
        self._conn.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        await self._conn.close()
        self._hand_over()

    async def wait_connected(self) -> None:
        """Return once connected and subscribed to every device topic, so that from now on no
        device message is missed (bound the wait with asyncio.timeout)."""
        await self._conn.wait_connected()

    # -- outgoing ----------------------------------------------------------------------------

    def handles(self, actuator: ActuatorSpec) -> bool:
        return actuator.mqtt is not None

    def send(self, command: Command) -> None:
        """Set an actuator (QoS from its binding, not retained). Raises DriverError for an
        unknown actuator or a value it cannot take. Never drops a command: one that cannot go
        out now waits (module docstring)."""
        bound = self._table.actuators.get(command.actuator)
        if bound is None:
            raise DriverError(f"actuator {command.actuator} has no usable MQTT binding")
        spec, target = bound
        topic, payload = encode_command(spec, command.value, target)
        qos = spec.mqtt.qos if spec.mqtt is not None else 1
        self._call_in_loop(self._send_now, command.actuator, topic, payload, qos)

    def flush(self) -> None:
        """Write the commands `send` was given now, not at the end of the event loop's pass
        (drivers.base.Gathers); call on the event loop."""
        self._conn.flush()

    def backlog(self) -> dict[str, int]:
        """What waits in the driver and its connection, by where it waits: commands waiting
        for the window or a reconnect, publishes held while offline, and the connection's
        (soak tests watch these for leaks)."""
        return {
            "mqtt_held": len(self._waiting),
            "mqtt_outbox": len(self._outbox),
            **self._conn.backlog(),
        }

    @property
    def commands_waiting(self) -> int:
        """Commands decided but not yet handed to the connection (window full, or offline)."""
        return len(self._waiting)

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> None:
        """Publish anything (control plane). While disconnected QoS 0 is dropped and QoS 1-2 is
        held, in order, up to `settings.max_queued` messages."""
        if not topic or "+" in topic or "#" in topic:
            raise DriverError(f"cannot publish to {topic!r}: a topic name without wildcards")
        if qos not in (0, 1, 2):
            raise DriverError(f"QoS must be 0, 1 or 2, got {qos}")
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        self._call_in_loop(self._publish_now, topic, data, qos, retain)

    def subscribe(self, topic_filter: str, callback: MessageCallback) -> None:
        """Call `callback(topic, payload)` on the event loop for every message matching the
        filter, from now on and across reconnects. Exceptions in it are logged, never raised."""
        if not _valid_filter(topic_filter):
            raise DriverError(f"{topic_filter!r} is not a valid MQTT topic filter")
        self._call_in_loop(self._subscribe_now, topic_filter, callback)

    def unsubscribe(self, topic_filter: str) -> None:
        """Drop every callback of `topic_filter`."""
        self._call_in_loop(self._unsubscribe_now, topic_filter)

    def _call_in_loop(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is None or self._closed:
            raise DriverError("the MQTT driver is not running: use `async with MqttDriver(...)`")
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _send_now(self, actuator: str, topic: str, payload: bytes, qos: int) -> None:
        waiting = self._waiting
        if waiting or not self._conn.connected or (qos and len(self._in_flight) >= COMMAND_WINDOW):
            waiting.append((actuator, topic, payload, qos))  # behind those waiting, in order
            self.stats.commands_held += 1
            if len(waiting) > self._waiting_limit:
                self._reduce_waiting()
            if len(self._in_flight) < COMMAND_WINDOW:
                self._pump_soon()  # no acknowledgement may be coming to do it
        elif not self._publish_command(topic, payload, qos):
            waiting.append((actuator, topic, payload, qos))
            self.stats.commands_held += 1

    def _reduce_waiting(self) -> None:
        """Keep of the waiting commands only the latest per actuator, in the order those were
        decided; count the others as superseded."""
        latest: dict[str, tuple[str, str, bytes, int]] = {}
        for entry in self._waiting:
            latest.pop(entry[0], None)
            latest[entry[0]] = entry
        self.stats.commands_superseded += len(self._waiting) - len(latest)
        self._waiting = deque(latest.values())

    def _publish_command(self, topic: str, payload: bytes, qos: int) -> bool:
        """Hand a command to the connection; False if it did not take it: paho's own queue is
        full (of the control plane's messages), or a QoS 0 command met a connection that just
        dropped. (paho keeps a QoS 1 message it could not write and sends it after the
        reconnect, so that one is in flight.)"""
        info = self._conn.publish(topic, payload, qos=qos)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE or (
            not qos and info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS
        ):
            return False
        if qos:
            self._in_flight.add(info.mid)
        self.stats.commands_sent += 1
        return True

    def _acknowledged(self, mid: int) -> None:
        """A PUBACK (inside paho's bookkeeping, which frees the window after this returns):
        the waiting commands go out once this loop pass is done."""
        self._in_flight.discard(mid)
        if self._waiting:
            self._pump_soon()

    def _pump_soon(self) -> None:
        """`_pump` once this loop pass is done (once, however often asked)."""
        if not self._pump_due and self._loop is not None:
            self._pump_due = True
            self._loop.call_soon(self._pump)

    def _pump(self) -> None:
        """Send waiting commands, oldest first, while connected and the window has room."""
        self._pump_due = False
        waiting = self._waiting
        while waiting and self._conn.connected:
            _, topic, payload, qos = waiting[0]
            if qos and len(self._in_flight) >= COMMAND_WINDOW:
                return
            if not self._publish_command(topic, payload, qos):
                return
            waiting.popleft()

    def _publish_now(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if self._conn.connected:
            info = self._conn.publish(topic, payload, qos, retain)
            if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                self.stats.publish_dropped += 1
            else:
                self.stats.published += 1
        elif qos == 0:
            self.stats.publish_dropped += 1
        else:
            if len(self._outbox) >= self.settings.max_queued:
                self._outbox.popleft()
                self.stats.publish_dropped += 1
            self._outbox.append((topic, payload, qos, retain))

    def _subscribe_now(self, topic_filter: str, callback: MessageCallback) -> None:
        self._matches.clear()
        callbacks = self._extra.setdefault(topic_filter, [])
        callbacks.append(callback)
        if len(callbacks) == 1 and self._conn.connected:
            self._conn.subscribe([topic_filter])

    def _unsubscribe_now(self, topic_filter: str) -> None:
        self._matches.clear()
        if self._extra.pop(topic_filter, None) is not None and self._conn.connected:
            self._conn.unsubscribe(topic_filter)

    def _on_connected(self) -> None:
        self._conn.subscribe(self._table.topics + list(self._extra))
        assert self._loop is not None
        # After paho has re-sent what was in flight when the last connection dropped.
        self._loop.call_soon(self._release_held)

    def _release_held(self) -> None:
        if not self._conn.connected:
            return
        self._reduce_waiting()  # what waited through the outage: the latest per actuator
        self._pump()
        while self._outbox and self._conn.connected:
            self._publish_now(*self._outbox.popleft())

    # -- incoming ----------------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.stats.messages += 1
        route = self._routes.get(topic)
        handled = route is not None
        if route is not None:
            if route.state:
                self._decode_state(route, payload)
            if route.availability:
                self._decode_availability(route, payload)
        if self._extra:
            filters = self._matches.get(topic)
            if filters is None:
                filters = [f for f in self._extra if topic_matches_sub(f, topic)]
                if len(self._matches) >= MATCH_CACHE:
                    self._matches.clear()
                self._matches[topic] = filters
            for topic_filter in filters:
                callbacks = self._extra.get(topic_filter)
                if callbacks:
                    handled = True
                    self._call_extra(list(callbacks), topic, payload)
        if not handled:
            self.stats.unmatched += 1

    def _decode_state(self, route: Route, payload: bytes) -> None:
        sensors = route.sensors
        if sensors is not None and not self._keywatch.tracking(route.topic):
            message = sensor_readings(sensors, payload, self._clock.now())
            if message is not None:
                self.stats.readings += len(message)
                self._batch.append(message)
                return
        decoded = decode_state(route.topic, payload, route.state)
        if decoded.values:
            now = self._clock.now()
            message = [Reading(t.id, value, now) for t, value in decoded.values]
            self.stats.readings += len(message)
            self._batch.append(message)
        for error in decoded.errors:
            self._bad_payload(error)
        watch = decoded.missing or (decoded.parsed and self._keywatch.tracking(route.topic))
        if watch and route.format is PayloadFormat.Z2M:
            self._watch_keys(route, decoded.missing)

    def _watch_keys(self, route: Route, missing: list[Target]) -> None:
        absent = {target.key for target in missing}
        present = {target.key for target in route.state} - absent
        before = self._keywatch.warnings
        self._keywatch.observe(route.topic, present, absent)
        self.stats.missing_key_warnings += self._keywatch.warnings - before

    def _decode_availability(self, route: Route, payload: bytes) -> None:
        try:
            online = decode_availability(route.topic, payload)
        except PayloadError as error:
            self._bad_payload(error)
            return
        if not online:
            now = self._clock.now()
            message = [Reading(t.id, None, now, Quality.UNAVAILABLE) for t in route.availability]
            self.stats.readings += len(message)
            self._batch.append(message)

    def _bad_payload(self, error: PayloadError) -> None:
        self.stats.bad_payloads[error.fault.value] += 1
        self._throttle.warning(error.topic, f"bad payload ({error.fault}) on {error}")

    def _call_extra(self, callbacks: list[MessageCallback], topic: str, payload: bytes) -> None:
        for callback in callbacks:
            try:
                callback(topic, payload)
            except Exception:
                self.stats.callback_errors += 1
                log.exception(
                    "subscription callback %r failed on %s, payload %s",
                    callback,
                    topic,
                    show_payload(payload),
                )

    def hand_over_to(self, sink: Callable[[Batch], None]) -> None:
        """Call `sink(batch)` on the event loop at the end of each read burst instead of
        queueing the batch on `readings` (drivers.base.HandsOver)."""
        self._sink = sink

    def _hand_over(self) -> None:
        """End of a read burst: the messages it brought, in order, as one batch."""
        if self._batch:
            batch, self._batch = self._batch, []
            if self._sink is not None:
                self._sink(batch)
            else:
                self.readings.put_nowait(batch)


def _valid_filter(topic_filter: str) -> bool:
    if not topic_filter or len(topic_filter.encode()) > 65535:
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True
