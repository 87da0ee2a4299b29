"""The Home Assistant driver: entity states in, `Reading` batches out; `Command`s in, service calls
out, over Home Assistant's websocket API (hass-client).

    async with HomeAssistantDriver(campus, HaSettings.from_site(campus.homeassistant), clock) as d:
        d.send(command)
        batch = await d.readings.get()

A session subscribes to ``state_changed`` first and then reads every state, so no change falls
between the two; it reads every state again when Home Assistant reports it finished starting
(entities of slow integrations appear late). A lost session is retried with exponential backoff
and resynced the same way. A Home Assistant that is shutting down may still answer for a moment:
that is not taken for a session, since what it is told then may not survive it. Losing Home
Assistant yields no readings: points go unknown through their ``stale_after``, as with the MQTT
driver, so a short HA restart does not flip every rule.

Commands: one service call at a time, the latest per actuator. A command issued while
disconnected waits for the next session; a newer one for the same actuator replaces it. A call
Home Assistant refuses, or one for an entity it does not have, is logged with the entity and HA's
message, kept in `failures`, and nothing else stops.

Each session uses a fresh `HomeAssistantClient`: the client keeps its subscriptions across
connections, and HA forgets them on its side, so a reused client would wait for events of
subscriptions that no longer exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import aiohttp
from hass_client import HomeAssistantClient
from hass_client.exceptions import (
    AuthenticationFailed,
    BaseHassClientError,
    ConnectionFailed,
    FailedCommand,
)

from campus.clock import Clock
from campus.model import ActuatorSpec, Campus
from campus.problems import DriverError
from campus.types import Batch, Command, Quality, Reading
from drivers.homeassistant.index import Target, build_index
from drivers.homeassistant.mapping import ServiceCall, Unusable, encode_command
from drivers.homeassistant.settings import HA_DOCS, HaSettings
from drivers.homeassistant.stats import CommandFailure, HaStats

log = logging.getLogger("campusctl.homeassistant")

STOPPING = frozenset({"STOPPING", "FINAL_WRITE", "NOT_RUNNING", "STOPPED"})
"""Core states of a Home Assistant on its way down: it still answers for a moment, but what it
is told then may not survive it, so the driver waits for the next one instead."""


class HomeAssistantDriver:
    """Reads every HA-bound point of a campus and drives its HA-bound actuators.

    - `readings`: batches of readings stamped with `clock.now()` on arrival. A point's reading
      carries the point id; an actuator's reported state carries the actuator id. An entity that
      is ``unavailable``/``unknown``, missing from HA, or whose state cannot be used yields an
      UNAVAILABLE reading (value None).
    - `send`: non-blocking, callable from any thread.
    - `stats`, `failures` (the latest refused commands, newest last), `connected`.
    """

    name = "homeassistant"

    def __init__(self, campus: Campus, settings: HaSettings, clock: Clock) -> None:
        self.settings = settings
        self.stats = HaStats()
        self.failures: deque[CommandFailure] = deque(maxlen=settings.max_failures_kept)
        self.readings: asyncio.Queue[Batch] = asyncio.Queue()
        self._clock = clock
        self._index = build_index(campus)
        self._known: set[str] = set()
        """Entities HA has, as of the last full read and the events since."""
        self._said: dict[str, str] = {}
        """The last problem logged per entity, so a lasting one is logged once."""
        self._pending: dict[str, Command] = {}
        self._batch: Batch = []
        """One message per entity state, in the order Home Assistant sent them."""
        self._hand_over_due = False
        self._resync_wanted = False
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def entities(self) -> list[str]:
        """The entities the campus binds, sorted."""
        return sorted(self._index.entities)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Return once a session has read every state (bound the wait with asyncio.timeout)."""
        await self._connected.wait()

    async def __aenter__(self) -> HomeAssistantDriver:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._task = asyncio.create_task(self._run(), name="homeassistant-session")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._connected.clear()
        self._hand_over()

    # -- outgoing ----------------------------------------------------------------------------

    def handles(self, actuator: ActuatorSpec) -> bool:
        return actuator.homeassistant is not None

    def send(self, command: Command) -> None:
        """Set an actuator through its entity's service call. Raises DriverError for an actuator
        without a Home Assistant binding or a value it cannot take; never waits for HA."""
        bound = self._index.actuators.get(command.actuator)
        if bound is None:
            raise DriverError(f"actuator {command.actuator} is not bound to Home Assistant")
        encode_command(*bound, command.value)
        if self._loop is None or self._task is None:
            raise DriverError("the Home Assistant driver is not running: use `async with`")
        if threading.get_ident() == self._loop_thread:
            self._queue(command)
        else:
            self._loop.call_soon_threadsafe(self._queue, command)

    def _queue(self, command: Command) -> None:
        if self._pending.pop(command.actuator, None) is not None:
            self.stats.commands_superseded += 1
        self._pending[command.actuator] = command
        if not self.connected:
            self.stats.commands_held += 1
        self._wake.set()

    # -- sessions ----------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = self.settings.reconnect_min
        where = f"Home Assistant at {self.settings.url}"
        while True:
            try:
                await self._session()
                log.warning("%s closed the connection; reconnecting", where)
            except AuthenticationFailed as exc:
                log.error(
                    "%s refused the token from %s (%s): create a new long-lived token (%s)",
                    where,
                    self.settings.token_source,
                    exc,
                    HA_DOCS,
                )
            except DriverError as exc:
                log.error("%s", exc)
            except (BaseHassClientError, OSError, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("%s: %s; retrying in %.1f s", where, exc or type(exc).__name__, backoff)
            except Exception:
                log.exception("%s: unexpected error (a bug); reconnecting", where)
            established = self.connected
            self._connected.clear()
            if established:
                self.stats.disconnects += 1
                backoff = self.settings.reconnect_min
            else:
                self.stats.connect_failures += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.settings.reconnect_max)

    async def _session(self) -> None:
        """One connection, until it ends."""
        client = HomeAssistantClient(self.settings.websocket_url(), self.settings.read_token())
        listener: asyncio.Task[None] | None = None
        work: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(self.settings.connect_timeout):
                await client.connect()
            listener = asyncio.create_task(client.start_listening(), name="homeassistant-listen")
            work = asyncio.create_task(self._serve(client), name="homeassistant-serve")
            await asyncio.wait({listener, work}, return_when=asyncio.FIRST_COMPLETED)
            for ended in (work, listener):
                error = ended.exception() if ended.done() and not ended.cancelled() else None
                if error is not None:
                    raise error
        finally:
            for running in (work, listener):
                if running is not None and not running.done():
                    running.cancel()
                    await asyncio.wait({running})
            with contextlib.suppress(Exception):
                await client.disconnect()

    async def _serve(self, client: HomeAssistantClient) -> None:
        """Subscribe, read every state, then carry out commands until the session ends."""
        await client.subscribe_events(self._on_state_changed, "state_changed")
        config = await client.get_config()
        core_state = config.get("state") if isinstance(config, Mapping) else None
        if core_state in STOPPING:
            raise ConnectionFailed(message=f"Home Assistant is shutting down ({core_state})")
        starting = core_state != "RUNNING"
        if starting:
            await client.subscribe_events(self._on_started, "homeassistant_started")
        await self._resync(client, report_missing=not starting)
        self.stats.connects += 1
        self._connected.set()
        log.info(
            "connected to Home Assistant %s (%s) at %s: %d of %d bound entities present",
            client.version,
            core_state,
            self.settings.url,
            len(self._known & self._index.entities.keys()),
            len(self._index.entities),
        )
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._resync_wanted:
                self._resync_wanted = False
                await self._resync(client, report_missing=True)
            while self._pending:
                actuator = next(iter(self._pending))
                await self._call(client, self._pending.pop(actuator))

    async def _resync(self, client: HomeAssistantClient, *, report_missing: bool) -> None:
        states = await client.get_states()
        self.stats.resyncs += 1
        by_entity = {state["entity_id"]: state for state in states}
        self._known = set(by_entity)
        now = self._clock.now()
        for entity, targets in self._index.entities.items():
            state = by_entity.get(entity)
            if state is not None:
                self._read(entity, targets, state, now)
                continue
            if report_missing:
                self._say(entity, "does not exist in Home Assistant: check campus.yaml")
            self._batch.append([Reading(t.id, None, now, Quality.UNAVAILABLE) for t in targets])
        self._hand_over()

    def _on_started(self, _event: Mapping[str, Any]) -> None:
        self._resync_wanted = True
        self._wake.set()

    # -- commands ----------------------------------------------------------------------------

    async def _call(self, client: HomeAssistantClient, command: Command) -> None:
        spec, binding = self._index.actuators[command.actuator]
        call = encode_command(spec, binding, command.value)
        if binding.entity not in self._known:
            self._failed(command, binding.entity, call, "the entity does not exist in HA")
            return
        try:
            await client.call_service(
                call.domain, call.service, call.data, {"entity_id": binding.entity}
            )
        except FailedCommand as exc:
            self._failed(command, binding.entity, call, str(exc))
            return
        except BaseException:
            self._pending.setdefault(command.actuator, command)
            raise
        self.stats.commands_sent += 1
        log.debug("%s: %s %s on %s", command.actuator, call, call.data, binding.entity)

    def _failed(self, command: Command, entity: str, call: ServiceCall, message: str) -> None:
        failure = CommandFailure(command.actuator, entity, str(call), message, self._clock.now())
        self.failures.append(failure)
        self.stats.commands_failed += 1
        log.error("Home Assistant did not carry out the command for %s", failure)

    # -- incoming ----------------------------------------------------------------------------

    def _on_state_changed(self, event: Mapping[str, Any]) -> None:
        data = event.get("data") or {}
        entity = data.get("entity_id")
        targets = self._index.entities.get(entity) if isinstance(entity, str) else None
        if targets is None or not isinstance(entity, str):
            return
        self.stats.events += 1
        now = self._clock.now()
        state = data.get("new_state")
        if state is None:
            self._known.discard(entity)
            self._say(entity, "was removed from Home Assistant")
            self._batch.append([Reading(t.id, None, now, Quality.UNAVAILABLE) for t in targets])
        else:
            self._known.add(entity)
            self._read(entity, targets, state, now)
        self._schedule_hand_over()

    def _read(
        self, entity: str, targets: list[Target], state: Mapping[str, Any], now: float
    ) -> None:
        problem = None
        message: list[Reading] = []
        for target in targets:
            value = target.decode(state)
            if value is None:
                continue
            if isinstance(value, Unusable):
                if value.reason is not None:
                    self.stats.unusable_states += 1
                    problem = f"{value.reason} (for {target.id})"
                message.append(Reading(target.id, None, now, Quality.UNAVAILABLE))
            else:
                message.append(Reading(target.id, value, now))
        if message:
            self._batch.append(message)
        if problem is None:
            self._said.pop(entity, None)
        else:
            self._say(entity, problem)

    def _say(self, entity: str, problem: str) -> None:
        """Log a problem with an entity once, until it changes or goes away."""
        if self._said.get(entity) != problem:
            self._said[entity] = problem
            log.warning("Home Assistant entity %s %s", entity, problem)

    def _schedule_hand_over(self) -> None:
        """State changes that arrive together (one scene, one automation) make one batch."""
        if self._batch and not self._hand_over_due:
            assert self._loop is not None
            self._hand_over_due = True
            self._loop.call_soon(self._hand_over)

    def _hand_over(self) -> None:
        self._hand_over_due = False
        if self._batch:
            batch, self._batch = self._batch, []
            self.stats.readings += sum(map(len, batch))
            self.readings.put_nowait(batch)
