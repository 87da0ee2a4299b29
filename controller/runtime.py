"""The controller's event loop: readings in, rules evaluated, commands out.

Drivers hand readings over in batches; the engine is synchronous and pure, so the loop only
waits for the next batch or the engine's next deadline (hold timers, staleness, time windows),
whichever comes first, on the injected clock. Every batch of readings (controller.events.Readings)
and every command is also emitted on the bus for the extensions (history, control plane, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from campus.clock import Clock
from campus.model import Campus
from campus.problems import CampusError
from campus.types import Batch, Command, Reading, Value
from controller import staff
from controller.bus import Bus
from controller.collector import Collector
from controller.events import Audit, Readings, Reported
from controller.extension import Extension
from controller.reload import ReloadReport
from drivers.base import Driver, Gathers, HandsOver
from rules.alarms import Alarm
from rules.durable import Saved
from rules.engine import Engine
from rules.events import AlarmChanged, Transition
from rules.schema import RuleSet

log = logging.getLogger("campusctl.controller")

HOLD_OFF = 0.001
"""After a command, background work (room messages, events, garbage collection) waits until
this long after the last readings or command, so that the hot path's traffic has the CPU first
(after a pass of readings that sent no command it runs at once: `Controller.every_tick`). On a
machine the controller shares with its broker, the kernel
tends to run the broker, woken by the controller's write, on the controller's CPU: work started
right after a command's write, or right after one reading of a burst, kept the broker from
delivering the command, or the next reading, until it was done (bench/README.md, "Fourth
round")."""
TICK = 0.01
"""How often the background work (`Controller.every_tick`) runs while there is any: the control
plane's publications in small slices often rather than every due room at once, which would hold
up the readings queued behind it (bench/README.md, "Control plane"), and the collector's look at
the young generation."""
IDLE_TICK = 0.5
"""How often it runs while nothing waits and nothing happens (heartbeats, a collector's look):
a wake-up of an idle event loop is dear, and a hundred a second were most of what an idle
controller cost (bench/README.md, campus load, item 16)."""


_NOT_A_POINT = (None, "", True)
"""What `Controller._cells` gives for an id that is not a point (counted as not one)."""


@dataclass
class RoomStats:
    """What the controller saw and did in one room (for the summary and the logs)."""

    readings: int = 0
    commands: int = 0
    commanded: dict[str, Value] = field(default_factory=dict)
    """Last command per actuator name."""
    reported: dict[str, Value | None] = field(default_factory=dict)
    """Last state the device reported per actuator name."""


class Controller:
    """One campus, one rule set, its drivers and extensions."""

    def __init__(
        self,
        campus: Campus,
        rules: RuleSet,
        drivers: Sequence[Driver],
        clock: Clock,
        *,
        settle: float = 5.0,
        extensions: Sequence[Extension] = (),
        saved: Saved | None = None,
    ) -> None:
        self.campus = campus
        self.rules = rules
        self.drivers = list(drivers)
        self.clock = clock
        self.settle = settle
        self.extensions = list(extensions)
        self.bus = Bus()
        self.rooms: dict[str, RoomStats] = {room.id: RoomStats() for room in campus.rooms}
        self.readings = 0
        self.commands = 0
        self.recent: deque[Command] = deque(maxlen=500)
        """The last commands sent, newest last."""
        self.engine = Engine(
            campus, rules, clock.now(), settle, listener=self._engine_event, saved=saved
        )
        """`saved`: durable state from before a restart (controller.state)."""
        for note in self.engine.restored:
            log.info("state: %s", note)
        self.ready = asyncio.Event()
        self._actuators = campus.actuators()
        self._cells: dict[str, tuple[RoomStats, str, bool]] = {}
        for room in campus.rooms:
            stats = self.rooms[room.id]
            self._cells.update((p.id, (stats, name, False)) for name, p in room.points.items())
            self._cells.update((a.id, (stats, name, True)) for name, a in room.actuators.items())
        """Point or actuator id -> (its room's stats, its name, whether it is an actuator)."""
        self._routes = self._route_commands()
        self._gathering = [d for d in self.drivers if isinstance(d, Gathers)]
        """The drivers `send` asks to write at once."""
        self._inbox: asyncio.Queue[Batch] = asyncio.Queue()
        self._waiting_until = float("inf")
        """The engine deadline `_loop` sleeps until (inf: none; -inf while it is awake, as it
        looks at the deadline again before it sleeps)."""
        self.collector = Collector()
        """Garbage collection at quiet moments, while the controller runs (controller.collector)."""
        self._tick_jobs: list[Callable[[], object]] = []
        """What runs every tick (`every_tick`), in the order registered."""
        self._tick_timer: asyncio.TimerHandle | None = None
        """The next tick, unless a pass of readings comes first (None: the ticks are off)."""
        self._ticked_at = -math.inf
        """When the last tick ran (time.monotonic)."""
        self._tick_queued = False
        """A tick is queued behind this pass of the event loop (`_after_readings`)."""
        self._idle = False
        """The last tick found nothing waiting and nothing done since the one before."""
        self._active_at = -math.inf
        """When readings last came or a command last went out (time.monotonic)."""
        self._commanded_at = -math.inf
        """When a command last went out (time.monotonic)."""
        self._held: list[object] | None = None
        """While an engine pass runs (`decide`): what it reports (transitions, alarm and
        override changes), for the bus after its commands are written."""
        self._stopping = False
        """Set as the stop begins: batches drivers hand over are no longer handled. The
        extensions stop first (the historian's last write among them), so a reading taken after
        that would make commands nobody records."""

    def _route_commands(self) -> dict[str, Driver]:
        routes: dict[str, Driver] = {}
        for actuator in self._actuators.values():
            driver = next((d for d in self.drivers if d.handles(actuator)), None)
            if driver is None:
                log.warning("no driver carries commands for %s: it is not bound", actuator.id)
            else:
                routes[actuator.id] = driver
        return routes

    def driver(self, name: str) -> Driver | None:
        """The driver called `name` (``mqtt``, ...), if the controller has one."""
        return next((d for d in self.drivers if d.name == name), None)

    async def run(self) -> None:
        """Connect the drivers, start the extensions, and control until cancelled."""
        async with contextlib.AsyncExitStack() as stack:
            for driver in self.drivers:
                direct = isinstance(driver, HandsOver)
                if isinstance(driver, HandsOver):
                    driver.hand_over_to(self._take)
                await stack.enter_async_context(driver)
                if not direct:
                    name = f"{driver.name}-readings"
                    task = asyncio.create_task(self._forward(driver), name=name)
                    stack.callback(task.cancel)
            for extension in self.extensions:
                await extension.start(self)
                stack.push_async_callback(extension.stop)
            stack.callback(setattr, self, "_stopping", True)
            log.info(
                "controlling %d rooms with %d rules via %s",
                len(self.rooms),
                len(self.rules.rules),
                ", ".join(d.name for d in self.drivers) or "no driver",
            )
            # The campus, rules, instances and extensions live as long as the process: keep
            # them out of the collector's full passes, which otherwise walk all of them, a
            # pause now and then in the middle of readings (bench/README.md, "Measured on the
            # old workload", item 7). No collect first: it would delay the start by as long.
            gc.freeze()
            if self.collector.start():
                stack.callback(self.collector.stop)
                stack.callback(self.every_tick(self.collector.step))
            self._arm_tick(TICK)
            stack.callback(self._stop_ticks)
            self.ready.set()
            await self._loop()

    async def _forward(self, driver: Driver) -> None:
        while True:
            self._inbox.put_nowait(await driver.readings.get())

    async def _loop(self) -> None:
        engine = self.engine
        next_batch = asyncio.create_task(self._inbox.get())
        try:
            while True:
                deadline = engine.next_deadline()
                self._waiting_until = float("inf") if deadline is None else deadline
                sleeper = None
                waiters: set[asyncio.Future[object]] = {next_batch}  # type: ignore[arg-type]
                if deadline is not None:
                    sleeper = asyncio.create_task(self.clock.sleep_until(deadline))
                    waiters.add(sleeper)  # type: ignore[arg-type]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                self._waiting_until = float("-inf")  # awake: looks at the deadline before sleeping
                if sleeper is not None and not sleeper.done():
                    sleeper.cancel()
                if next_batch.done():
                    self.handle(next_batch.result())
                    next_batch = asyncio.create_task(self._inbox.get())
                self.decide(lambda: engine.advance(self.clock.now()))
        finally:
            next_batch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await next_batch

    def _take(self, batch: Batch) -> None:
        """A batch straight from a driver's read callback (drivers.base.HandsOver): handled at
        once, no task hop; `_loop` is woken only when the engine now has an earlier deadline."""
        if self._stopping:
            log.debug("stopping: %d readings not taken", len(batch))
            return
        self.handle(batch)

    def _wake_if_sooner(self) -> None:
        """`_loop` sleeps until the engine's next deadline as it was when it went to sleep:
        wake it if the engine now has an earlier one (after readings handed over, a staff
        request: an override's end, a change held back by min_switch_interval)."""
        deadline = self.engine.next_deadline()
        if deadline is not None and deadline < self._waiting_until:
            self._waiting_until = deadline
            self._inbox.put_nowait([])

    def every_tick(self, job: Callable[[], object]) -> Callable[[], None]:
        """Run `job()` at the controller's ticks while it runs: background work, all of it at
        once. `job` returns True while it has work waiting (rooms to publish, say); anything
        else: none. An exception is logged and the job runs again at the next tick. Returns
        what stops it.

        A tick comes every `TICK` while there is work: right after a pass of the event loop
        that handled readings and sent no command (the loop is awake anyway: no wake-up of its
        own), else from a timer, once `HOLD_OFF` has passed since the last readings or command.
        When a tick finds no job with work waiting and nothing handled since the tick before,
        the next one comes after `IDLE_TICK`, or as soon as readings, a command or `tick_soon`
        come: an idle controller wakes twice a second, not a hundred times."""
        self._tick_jobs.append(job)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._tick_jobs.remove(job)

        return stop

    def tick_soon(self) -> None:
        """Work for the ticks has come (an event to publish): the next tick within `TICK`."""
        if self._idle and self._tick_timer is not None:
            self._idle = False
            self._arm_tick(TICK)

    def _arm_tick(self, delay: float) -> None:
        if self._tick_timer is not None:
            self._tick_timer.cancel()
        self._tick_timer = asyncio.get_running_loop().call_later(delay, self._tick_due)

    def _stop_ticks(self) -> None:
        """No tick from now on (the controller stops), whatever comes."""
        if self._tick_timer is not None:
            self._tick_timer.cancel()
            self._tick_timer = None
        self._idle = False

    def _tick_due(self) -> None:
        """The timer's tick, after the hold-off."""
        wait = self.quiet_left(time.monotonic())
        if wait > 0:
            self._arm_tick(wait)
        else:
            self._tick()

    def _after_readings(self) -> None:
        """After a pass that handled readings: a tick behind it, if one is due and no command
        went out within `HOLD_OFF` (after a command the timer's tick waits for the hold-off)."""
        now = time.monotonic()
        if (
            not self._tick_queued
            and now - self._ticked_at >= TICK
            and now - self._commanded_at >= HOLD_OFF
            and self._tick_timer is not None
        ):
            self._tick_queued = True
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self._tick_queued = False
        if self._tick_timer is None:
            return  # stopped meanwhile
        previous, self._ticked_at = self._ticked_at, time.monotonic()
        waiting = False
        for job in list(self._tick_jobs):
            try:
                waiting = job() is True or waiting
            except Exception:
                log.exception("background work %s failed; it runs again next tick", job)
        self._idle = not waiting and self._active_at < previous
        self._arm_tick(IDLE_TICK if self._idle else TICK)

    def quiet_left(self, now: float) -> float:
        """How long the background work would still wait at `now` (time.monotonic) for the
        hot path to be quiet (`HOLD_OFF`); 0 or less: not at all."""
        return self._active_at + HOLD_OFF - now

    def handle(self, batch: Batch) -> None:
        """Feed a driver's batch of device messages to the engine (each message on its own, in
        order: Engine.on_messages) and send what it decides."""
        self._active_at = time.monotonic()
        cells = self._cells
        messages: Batch = []
        reported: list[Reading] = []
        count = 0
        mixed = False
        for message in batch:
            points = True
            for reading in message:
                cell = cells.get(reading.point)
                if cell is None:
                    points = False  # not in this campus (none are, from its drivers)
                    continue
                stats, name, is_actuator = cell
                if is_actuator:
                    stats.reported[name] = reading.value
                    reported.append(reading)
                    points = False
                    continue
                stats.readings += 1
            if points:  # the common case: a sensor's message, taken as it is
                messages.append(message)
                count += len(message)
            else:
                mixed = True
                taken = [r for r in message if not cells.get(r.point, _NOT_A_POINT)[2]]
                if taken:
                    messages.append(taken)
                    count += len(taken)
        if reported:
            self.bus.emit(Reported(reported))
        if messages:
            self.readings += count
            self.decide(lambda: self.engine.on_messages(messages))
        if batch and self.bus.wants(Readings):  # after the commands: they leave first
            if mixed:
                batch = [[r for r in m if r.point in cells] for m in batch]
            self.bus.emit(Readings(batch))
        self._after_readings()

    def decide(self, step: Callable[[], list[Command]]) -> None:
        """Run an engine pass, `step()` (readings, timers, a staff request, a reload), and send
        the commands it decides. What the pass reports meanwhile (rule transitions, alarm and
        override changes: `_engine_event`) goes on the bus after the commands are written,
        ahead of the commands themselves, so listeners see the order they always saw, and none
        of their work stands between a reading and its command (bench/README.md, campus load,
        item 20)."""
        held: list[object] = []
        self._held = held
        try:
            commands = step()
        except BaseException:
            self._held = None
            self._report(held)
            raise
        self._held = None
        self.send(commands, held)

    def send(self, commands: list[Command], reported: Sequence[object] = ()) -> None:
        """Hand `commands` to their drivers and have them written (drivers.base.Gathers), then
        put what the engine `reported` while deciding them on the bus (`decide`), then count
        the commands and put them on the bus: the bookkeeping waits, the devices do not."""
        if commands:
            self._active_at = self._commanded_at = time.monotonic()
            routes = self._routes
            for command in commands:
                driver = routes.get(command.actuator)
                if driver is not None:
                    driver.send(command)
            for gathering in self._gathering:
                gathering.flush()
            self.tick_soon()
        if reported:
            self._report(reported)
        for command in commands:
            room_id, _, name = command.actuator.rpartition(".")
            stats = self.rooms[room_id]
            stats.commands += 1
            stats.commanded[name] = command.value
            self.commands += 1
            self.recent.append(command)
            log.debug("%s -> %s: %s", command.actuator, show_value(command.value), command.reason)
            self.bus.emit(command)
        self._wake_if_sooner()  # every change to the engine ends here, commands or none

    # -- staff requests (control plane, TUI, CLI): validated, audited, persisted ---------

    @property
    def alarms(self) -> list[Alarm]:
        """Active alarms and cleared ones nobody acknowledged yet, active first."""
        return self.engine.alarms()

    def override(
        self, actuator_id: str, value: Value, until: float, who: str, reason: str = ""
    ) -> None:
        """Hold `actuator_id` at `value` in the `override` slot (8) until `until`; `reason`
        (why staff hold it) goes into the audit."""
        who = staff.check_who(who)
        spec = staff.find_actuator(self._actuators, actuator_id)
        value = staff.check_value(spec, value)
        reason = staff.check_reason(reason)
        now = self.clock.now()
        until = staff.check_until(until, now)
        self.decide(lambda: self.engine.set_override(spec.id, value, until, who, now))
        detail = f"{spec.id} = {show_value(value)} for {until - now:.0f} s"
        self._audit(who, "override", f"{detail}, reason: {reason}" if reason else detail)

    def release_override(self, actuator_id: str, who: str) -> None:
        who = staff.check_who(who)
        spec = staff.find_actuator(self._actuators, actuator_id)
        if not self.engine.has_override(spec.id):
            raise CampusError(f"{spec.id} has no override to release")
        self.decide(lambda: self.engine.release_override(spec.id, self.clock.now()))
        self._audit(who, "release-override", spec.id)

    def acknowledge_alarm(self, alarm_id: str, who: str) -> None:
        who = staff.check_who(who)
        if not isinstance(alarm_id, str) or self.engine.alarm(alarm_id) is None:
            known = [a.id for a in self.engine.alarms()]
            hint = staff.did_you_mean(str(alarm_id), known)
            listed = ", ".join(known[:5]) or "none"
            raise CampusError(f"no alarm {alarm_id!r}{hint}; current alarms: {listed}")
        self.engine.acknowledge_alarm(alarm_id, who, self.clock.now())
        self._audit(who, "acknowledge-alarm", alarm_id)

    def set_rule_enabled(self, rule_id: str, enabled: bool, who: str) -> None:
        """Enable or disable a rule; a disabled rule's instances relinquish their slots."""
        who = staff.check_who(who)
        enabled = staff.check_flag(enabled, "enabled")
        ids = self.engine.rule_ids()
        if not isinstance(rule_id, str) or rule_id not in ids:
            raise CampusError(f"no rule {rule_id!r}{staff.did_you_mean(str(rule_id), ids)}")
        self.decide(lambda: self.engine.set_rule_enabled(rule_id, enabled, self.clock.now(), who))
        self._audit(who, "enable-rule" if enabled else "disable-rule", rule_id)

    def reload_rules(self, who: str) -> ReloadReport:
        """Re-read the rule files; see controller.reload for what is kept and carried over."""
        from controller.reload import reload_rules

        who = staff.check_who(who)
        report = reload_rules(self, self.clock.now())
        self._audit(who, "reload-rules", "; ".join(report.diff) or "no change")
        return report

    def explain(self, target: str) -> dict[str, object]:
        """Why an actuator has its value, or why a rule (instance) is or is not active.

        `target`: an actuator id (``b1.r101.lights``), a rule id, or ``rule-id@b1.r101``.
        JSON-serialisable; rules.explain renders it as text.
        """
        from rules.explain import explain

        if not isinstance(target, str) or not target:
            raise CampusError(f"explain needs an actuator id or a rule id, got {target!r}")
        return explain(self.engine, target)

    def _engine_event(self, event: object) -> None:
        """What the engine reports (transitions, alarm and override changes): logged and put
        on the bus, that of an engine pass once its commands are written (`decide`)."""
        held = self._held
        if held is not None:
            held.append(event)
        else:
            self._report((event,))

    def _report(self, events: Iterable[object]) -> None:
        for event in events:
            self._log_event(event)
            self.bus.emit(event)

    @staticmethod
    def _log_event(event: object) -> None:
        if isinstance(event, AlarmChanged):
            alarm = event.alarm
            state = "active" if alarm.active else "cleared"
            if alarm.acknowledged_by is not None:
                state += f", acknowledged by {alarm.acknowledged_by}"
            log.warning("alarm %s (%s, %s): %s", alarm.id, alarm.severity, state, alarm.message)
        elif isinstance(event, Transition):
            log.debug(
                "%s@%s: %s -> %s (%s)",
                event.rule,
                event.room,
                event.old_state,
                event.new_state,
                event.cause,
            )

    def _audit(self, who: str, action: str, detail: str) -> None:
        log.info("audit: %s %s %s", who, action, detail)
        self.bus.emit(Audit(who, action, detail, self.clock.now()))


def show_value(value: Value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}"
