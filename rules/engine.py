"""The rules engine: readings and time in, commands out. Synchronous and pure.

No asyncio, no threads, no wall clock: every time is an argument, so the same engine runs live
under the controller, on the virtual clock of `rules test`, and in a replay of a recorded trace,
with the same results. The controller calls `on_messages` with each burst of device messages a
driver hands over and `advance` when `next_deadline` comes, and sends what they return. One
message's readings are simultaneous (one evaluation); separate messages are evaluated one by
one in arrival order, so the commands never depend on how messages were grouped into bursts.

The hot path (a campus of 1,000+ rooms, thousands of readings a second) is one dict lookup for
the point, a comparison with its last value, and the evaluation of only the instances that read
that point (an index built once). Every timer (holds, staleness, time windows, overrides,
held-back sends, the start-up settle) sits in one heap; nothing scans all points or rooms.

Start-up: nothing is sent before ``now + settle``, so the first readings can arrive and rules
settle; then every actuator's winning value is sent once, so every device is in a known state,
and from then on only changes go out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import attrgetter
from zoneinfo import ZoneInfo

from campus.model import Campus
from campus.types import Command, Quality, Reading, Value
from rules.alarms import Alarm
from rules.arbiter import OVERRIDE, OVERRIDE_PREFIX, Arbiter, Holder
from rules.build import CampusContext
from rules.durable import Saved, SavedOverride, apply
from rules.events import OverrideChanged, RulesChanged
from rules.instance import (
    ActuatorState,
    EngineTime,
    Instance,
    InstanceInfo,
    PointState,
    State,
)
from rules.intake import EngineStats, convert
from rules.reporting import Reporter
from rules.roster import Roster
from rules.schema import Rule, RuleSet
from rules.timers import Timer, TimerHeap, cancel
from rules.values import UNKNOWN, Val, format_value

MAX_CASCADE = 8
"""How often one instance may be re-evaluated within one event because an actuator it reads
changed. A rule that writes what its own condition reads could otherwise loop forever."""
GOOD = Quality.GOOD
_ts = attrgetter("ts")
NOBODY: list[Instance] = []
"""No instance to evaluate (shared, never appended to)."""


class Engine:
    def __init__(
        self,
        campus: Campus,
        rules: RuleSet | list[Rule],
        now: float,
        settle: float = 5.0,
        *,
        listener: Callable[[object], None] | None = None,
        saved: Saved | None = None,
    ) -> None:
        self.campus = campus
        self.reporter = Reporter(listener)
        self.alarm_book = self.reporter.book
        self.disabled: set[str] = set()
        """Ids of rules staff disabled."""
        self.touched: set[Instance] = set()
        """Instances whose durable state changed since the owner last took `take_touched`."""
        self.staff_state_changed = False
        """Overrides or disabled rules changed (a staff action, an override's expiry, a reload)
        since the owner last saved them: the part of `durable_changed` that costs a walk over
        every actuator to take."""
        self.tz = ZoneInfo(campus.site.timezone)
        self._clock_minute = -1.0
        self._clock_text = ""
        self.stats = EngineStats()
        self.clock = EngineTime(float(now))
        self._timers = TimerHeap()
        self._points = {pid: PointState(spec) for pid, spec in campus.points().items()}
        self._actuators = {aid: ActuatorState(spec) for aid, spec in campus.actuators().items()}
        self._queue: deque[tuple[Instance, str]] = deque()
        self._dirty: dict[str, ActuatorState] = {}
        self._cascade: dict[Instance, int] = {}
        self._out: list[Command] = []
        self.started = False
        self.rules = rules.rules if isinstance(rules, RuleSet) else list(rules)
        self.roster = Roster(self, CampusContext.of(campus))
        for rule in self.rules:
            for room_id in rule.rooms:
                self.roster.add(rule, room_id, now)
        self._timers.schedule(now + settle, self._start)
        self.restored: list[str] = []
        """What saved state could not be taken up, and why (for the log)."""
        self.taken_up = Saved()
        """What saved state was taken up (for the log: controller.state.log_restored)."""
        if saved is not None:
            self.restored, self.taken_up = apply(self, saved, now)
        for instance in self.roster:
            if instance.rule.id in self.disabled:
                instance.disable(now, "disabled by staff")
            else:
                instance.evaluate(now, "restored" if instance.cause == "restored" else "start-up")
        self.reporter.clear_orphans(self.roster.active_alarm_ids(), now)
        self._drain(now)

    # -- the public API -------------------------------------------------------------------

    def on_reading(self, reading: Reading) -> list[Command]:
        """Take one reading (its `ts` is the current time); the commands it causes."""
        return self.on_message((reading,))

    def on_message(self, readings: Sequence[Reading]) -> list[Command]:
        """Take the readings of one device message, which are simultaneous; the commands
        they cause, at the latest `ts`.

        Every value is in place before any rule is evaluated, and each affected instance is
        evaluated once: a multisensor message that changes occupancy and illuminance at once
        never sends a transient on/off pair.
        """
        out = self._begin(max(map(_ts, readings)) if readings else self.clock.now)
        self._message(readings)
        return out

    def on_messages(self, messages: Iterable[Sequence[Reading]]) -> list[Command]:
        """Take messages that arrived together (a driver's read burst), in arrival order; the
        commands they cause, in order.

        Each message is one `on_message`, with the timers due before it fired first: the
        result is the same whether the messages come one at a time or in bursts of any size
        and split (two readings of one sensor in one burst are two evaluations, so neither's
        threshold crossing is lost). Only the output list is shared.
        """
        out: list[Command] = []
        self._out = out
        for readings in messages:
            if readings:
                self._advance_to(max(map(_ts, readings)))
                self._message(readings)
        return out

    def _message(self, readings: Sequence[Reading]) -> None:
        """One message, its timers already fired: values in place, then each affected instance
        evaluated once, then the cascade drained."""
        self.stats.readings += len(readings)
        take = self._take
        now = self.clock.now
        if len(readings) == 1:
            readers = take(readings[0], now)
            if readers:
                cause = readings[0].point
                for instance in readers:
                    instance.evaluate(now, cause)
        else:
            due: dict[Instance, str] = {}
            for reading in readings:
                readers = take(reading, now)
                if readers:
                    for instance in readers:
                        if instance not in due:
                            due[instance] = reading.point
            if due:
                for instance, cause in due.items():
                    instance.evaluate(now, cause)
        if self._queue or self._dirty:
            self._drain(self.clock.now)

    def _take(self, reading: Reading, now: float) -> list[Instance]:
        """Put a reading's value in place; the instances to evaluate because of it."""
        point = self._points.get(reading.point)
        if point is None:
            self.stats.not_a_point += 1
            return NOBODY
        value: Val = reading.value  # type: ignore[assignment]
        kind = type(value)
        if reading.quality is not GOOD or not (
            (kind is float and point.low <= value <= point.high)  # type: ignore[operator]
            or (kind is bool and point.boolean)
        ):  # not the common case, a finite float in its range or a boolean for a boolean point
            value = convert(point.spec, reading, self.stats)
            if type(value) is float and not point.spec.plausible(value):
                self.stats.implausible += 1
                return NOBODY
        if value is not UNKNOWN:
            point.last_seen = now
            if not point.stale_armed and point.spec.stale_after is not None:
                point.stale_armed = True
                due = now + point.spec.stale_after
                self._timers.schedule(due, lambda t: self._stale_check(point, t))
        if value != point.value:
            point.value = value
            return point.readers
        return point.aged

    def advance(self, now: float) -> list[Command]:
        """Fire every timer due up to `now`, in time order; the commands they cause."""
        return self._begin(now)

    def next_deadline(self) -> float | None:
        """When `advance` next has something to do (None: only readings can change anything)."""
        return self._timers.next_at()

    def set_override(
        self, actuator_id: str, value: Value, until: float, who: str, now: float
    ) -> list[Command]:
        """Staff hold `actuator_id` at `value` in slot 8 until `until` (replaces any override)."""
        out = self._begin(now)
        target = self._actuator(actuator_id)
        if until <= self.clock.now:
            raise ValueError(f"override of {actuator_id} must end in the future")
        if not target.arbiter.spec.accepts(value):
            raise ValueError(f"{actuator_id} does not accept {value!r}")
        reason = f"override by {who} until {self.clock_text(until)} (override, slot 8)"
        now = self.clock.now
        self._changed(target, target.arbiter.override(value, who, until, reason, now), "override")
        self.staff_state_changed = True
        self._drain(self.clock.now)
        self.reporter.emit(OverrideChanged(actuator_id, now))
        return out

    def has_override(self, actuator_id: str) -> bool:
        return any(
            h.source.startswith(OVERRIDE_PREFIX) and h.slot == OVERRIDE
            for h in self.holders(actuator_id)
        )

    def alarms(self) -> list[Alarm]:
        return self.alarm_book.all()

    def alarm(self, alarm_id: str) -> Alarm | None:
        return self.alarm_book.get(alarm_id)

    def acknowledge_alarm(self, alarm_id: str, who: str, now: float) -> Alarm:
        """Raises KeyError for an alarm not in the list."""
        return self.reporter.acknowledge(alarm_id, who, now)

    @property
    def durable_changed(self) -> bool:
        """Overrides, alarms or disabled rules changed since the owner last saved them."""
        return self.staff_state_changed or self.reporter.alarms_changed

    @durable_changed.setter
    def durable_changed(self, value: bool) -> None:
        self.staff_state_changed = value
        self.reporter.alarms_changed = value

    def rule_ids(self) -> list[str]:
        return [rule.id for rule in self.rules]

    def set_rule_enabled(
        self, rule_id: str, enabled: bool, now: float, who: str = "staff"
    ) -> list[Command]:
        """Enable or disable every instance of a rule; disabled ones relinquish their slots."""
        out = self._begin(now)
        now = self.clock.now
        self.staff_state_changed = True
        if enabled:
            self.disabled.discard(rule_id)
        else:
            self.disabled.add(rule_id)
        for instance in self.live_instances(rule_id):
            if instance.enabled == enabled:
                continue
            if enabled:
                instance.enable(now)
            else:
                instance.disable(now, f"disabled by {who}")
            self.touched.add(instance)
        self._drain(now)
        self.reporter.emit(RulesChanged(rule_id, now))
        return out

    def take_touched(self) -> set[Instance]:
        """The instances whose durable state changed since the last call (for persistence)."""
        touched, self.touched = self.touched, set()
        return touched

    def release_override(self, actuator_id: str, now: float) -> list[Command]:
        out = self._begin(now)
        target = self._actuator(actuator_id)
        self._changed(target, target.arbiter.release_override(), "override released")
        self.staff_state_changed = True
        self._drain(self.clock.now)
        self.reporter.emit(OverrideChanged(actuator_id, self.clock.now))
        return out

    # -- introspection (TUI, explain) ------------------------------------------------------

    def instances(
        self, rule_id: str | None = None, room_id: str | None = None
    ) -> list[InstanceInfo]:
        if room_id is not None:
            # One room (the control plane asks for each room it publishes): a lookup per rule,
            # not a scan of every instance of the campus.
            found = self.roster.instances
            return [
                found[(rule.id, room_id)].info()
                for rule in self.rules
                if rule_id in (None, rule.id) and (rule.id, room_id) in found
            ]
        return [
            i.info() for (rule, _), i in self.roster.instances.items() if rule_id in (None, rule)
        ]

    def instance(self, rule_id: str, room_id: str) -> InstanceInfo:
        return self.roster.instances[(rule_id, room_id)].info()

    def live_instances(
        self, rule_id: str | None = None, room_id: str | None = None
    ) -> list[Instance]:
        """The instance objects themselves (explain, persistence), in load order."""
        return [
            i
            for (rule, room), i in self.roster.instances.items()
            if rule_id in (None, rule) and room_id in (None, room)
        ]

    def points(self) -> dict[str, PointState]:
        """Every point's state, by id."""
        return self._points

    def actuator_ids(self) -> list[str]:
        return list(self._actuators)

    def arbiter(self, actuator_id: str) -> Arbiter:
        return self._actuator(actuator_id).arbiter

    def holders(self, actuator_id: str) -> list[Holder]:
        """Who holds the actuator's priority array, the winner first, the default last."""
        return self._actuator(actuator_id).arbiter.holders()

    def actuator_value(self, actuator_id: str) -> Value:
        """The winning value (sent, or waiting for the settle or min_switch_interval)."""
        return self._actuator(actuator_id).arbiter.value

    def point_value(self, point_id: str) -> Val:
        return self._points[point_id].value

    @property
    def now(self) -> float:
        """The engine's time: the latest reading or timer it has seen."""
        return self.clock.now

    @property
    def timers_armed(self) -> int:
        """Timers in the heap, cancelled ones not yet dropped included: growth is a leak."""
        return len(self._timers)

    def describe(self, cause: str) -> str:
        """A cause for a transition record: ``b1.r101.co2=1104 ppm``, or the cause itself."""
        point = self._points.get(cause)
        if point is None:
            return cause
        return f"{cause}={format_value(point.value, point.spec.unit)}"

    def clock_text(self, t: float) -> str:
        """``08:15`` in the site's time zone (for reasons; kept for the minute it names, as
        every rule activation asks for it)."""
        minute = t // 60
        if minute != self._clock_minute:
            self._clock_minute = minute
            self._clock_text = datetime.fromtimestamp(t, self.tz).strftime("%H:%M")
        return self._clock_text

    # -- what instances ask of the engine (rules.instance.Host) ---------------------------

    def schedule(self, at: float, action: Callable[[float], None]) -> Timer:
        return self._timers.schedule(at, action)

    def write(
        self,
        target: ActuatorState,
        slot: int,
        value: Value,
        source: str,
        why: str | Callable[[], str],
    ) -> None:
        changed = target.arbiter.write(slot, value, source, why, now=self.clock.now)
        self._changed(target, changed, target.arbiter.spec.id)

    def relinquish(self, target: ActuatorState, slot: int, source: str) -> None:
        self._changed(target, target.arbiter.relinquish(slot, source), target.arbiter.spec.id)

    def transition(self, instance: Instance, old: State, now: float) -> None:
        self.touched.add(instance)
        self.reporter.transition(instance, old, now)

    def alarm_seen(self, instance: Instance, now: float) -> None:
        self.reporter.seen(instance, now)

    def replace_rules(self, rules: list[Rule], now: float) -> tuple[list[str], list[Command]]:
        """A reload: swap in `rules`, keeping unchanged instances as they are (state, running
        holds); the diff lines and the commands it causes."""
        out = self._begin(now)
        now = self.clock.now
        diff, added = self.roster.swap(rules, now)
        self.rules = list(rules)
        self.disabled &= set(self.rule_ids())
        for instance in added:
            self.touched.add(instance)
            if instance.rule.id in self.disabled:
                instance.disable(now, "disabled by staff")
            else:
                instance.evaluate(now, "reload")
        self.staff_state_changed = True
        self._drain(now)
        self.reporter.emit(RulesChanged(None, now))
        return diff, out

    def restore_override(self, saved: SavedOverride) -> None:
        """An override saved before a restart, with its original expiry."""
        target = self._actuator(saved.actuator)
        target.arbiter.override(saved.value, saved.who, saved.until, saved.reason, saved.since)
        self._changed(target, True, "override")

    # -- what the roster and explain ask of the engine ---------------------------------------

    def cell(self, full_id: str) -> PointState | ActuatorState | None:
        return self._points.get(full_id) or self._actuators.get(full_id)

    def actuator_state(self, actuator_id: str) -> ActuatorState:
        return self._actuators[actuator_id]

    # -- internals -------------------------------------------------------------------------

    def _begin(self, now: float) -> list[Command]:
        """Start a public call: a fresh output list, and every timer due up to `now` fired."""
        out: list[Command] = []
        self._out = out
        self._advance_to(now)
        return out

    def _advance_to(self, now: float) -> None:
        """Fire every timer due up to `now`, in time order, and move the clock to `now`.

        Time never goes back: a reading stamped earlier than the engine's time (drivers are not
        perfectly ordered) is taken at the engine's time.
        """
        timers = self._timers
        clock = self.clock
        if timers.due(now):
            while (timer := timers.pop_due(now)) is not None:
                at = max(timer.at, clock.now)
                clock.now = at
                timer.action(at)
                self._drain(at)
        if now > clock.now:
            clock.now = float(now)

    def _drain(self, now: float) -> None:
        """Re-evaluate instances whose actuators changed, then send what changed."""
        queue = self._queue
        if queue:
            cascade = self._cascade
            while queue:
                instance, cause = queue.popleft()
                count = cascade.get(instance, 0) + 1
                if count > MAX_CASCADE:
                    self.stats.cascade_cutoffs += 1
                    continue
                cascade[instance] = count
                instance.evaluate(now, cause)
            cascade.clear()
        if self._dirty:
            for target in self._dirty.values():
                if self.started:
                    command = target.arbiter.poll(now)
                    if command is not None:
                        self._out.append(command)
                self._arm_actuator(target)
            self._dirty.clear()

    def _changed(self, target: ActuatorState, value_changed: bool, cause: str) -> None:
        self._dirty[target.arbiter.spec.id] = target
        if value_changed:
            self._queue.extend((reader, cause) for reader in target.readers)

    def _arm_actuator(self, target: ActuatorState) -> None:
        """Keep one timer per actuator at its next override expiry or held-back send."""
        at = target.arbiter.next_deadline()
        timer = target.timer
        if timer is not None and not timer.cancelled and timer.at == at:
            return
        cancel(timer)
        target.timer = None
        if at is not None:
            target.timer = self._timers.schedule(at, lambda t: self._actuator_due(target, t))

    def _actuator_due(self, target: ActuatorState, now: float) -> None:
        target.timer = None
        actuator_id = target.arbiter.spec.id
        overridden = self.has_override(actuator_id)
        self._changed(target, target.arbiter.expire(now), "override expired")
        if overridden and not self.has_override(actuator_id):
            self.staff_state_changed = True
            self.reporter.emit(OverrideChanged(actuator_id, now))

    def _start(self, now: float) -> None:
        """End of the settle: every actuator's winning value goes out once."""
        self.started = True
        for target in self._actuators.values():
            self._out.append(target.arbiter.start(now))
            self._arm_actuator(target)

    def _stale_check(self, point: PointState, now: float) -> None:
        point.stale_armed = False
        stale_after = point.spec.stale_after
        if point.last_seen is None or stale_after is None:
            return
        due = point.last_seen + stale_after
        if due > now:
            point.stale_armed = True
            self._timers.schedule(due, lambda t: self._stale_check(point, t))
            return
        if point.value is not UNKNOWN:
            point.value = UNKNOWN
            for instance in point.readers:
                instance.evaluate(now, f"{point.spec.id} stale")

    def _actuator(self, actuator_id: str) -> ActuatorState:
        try:
            return self._actuators[actuator_id]
        except KeyError:
            raise KeyError(f"no actuator {actuator_id!r} in the campus") from None
