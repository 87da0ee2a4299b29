"""The rules engine: readings and time in, commands out. Synchronous and pure.

No asyncio, no threads, no wall clock: every time is an argument, so the same engine runs live
under the controller, on the virtual clock of `rules test`, and in a replay of a recorded trace,
with the same results. The controller calls `on_reading` for each reading and `advance` when
`next_deadline` comes, and sends what they return.

The hot path (a campus of 1,000+ rooms, thousands of readings a second) is one dict lookup for
the point, a comparison with its last value, and the evaluation of only the instances that read
that point (an index built once). Every timer (holds, staleness, time windows, overrides,
held-back sends, the start-up settle) sits in one heap; nothing scans all points or rooms.

Start-up: nothing is sent before ``now + settle``, so the first readings can arrive and rules
settle; then every actuator's winning value is sent once, so every device is in a known state,
and from then on only changes go out.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from campus.model import Campus, ValueType
from campus.types import Command, Quality, Reading, Value
from rules.arbiter import Holder
from rules.build import CampusContext
from rules.instance import (
    ActuatorState,
    Clock,
    Instance,
    InstanceEnv,
    InstanceInfo,
    PointState,
)
from rules.schema import Rule, RuleSet
from rules.timers import Timer, TimerHeap, cancel
from rules.values import UNKNOWN, Val, format_value

MAX_CASCADE = 8
"""How often one instance may be re-evaluated within one event because an actuator it reads
changed. A rule that writes what its own condition reads could otherwise loop forever."""


@dataclass
class EngineStats:
    readings: int = 0
    not_a_point: int = 0
    """Readings for ids that are not points (actuator feedback): ignored."""
    wrong_type: int = 0
    """Readings whose value did not fit the point's type: the point became unknown."""
    cascade_cutoffs: int = 0


class Engine:
    def __init__(
        self, campus: Campus, rules: RuleSet | list[Rule], now: float, settle: float = 5.0
    ) -> None:
        self.campus = campus
        self.tz = ZoneInfo(campus.site.timezone)
        self.stats = EngineStats()
        self._clock = Clock(float(now))
        self._timers = TimerHeap()
        self._points = {pid: PointState(spec) for pid, spec in campus.points().items()}
        self._actuators = {aid: ActuatorState(spec) for aid, spec in campus.actuators().items()}
        self._queue: deque[tuple[Instance, str]] = deque()
        self._dirty: dict[str, ActuatorState] = {}
        self._cascade: dict[Instance, int] = {}
        self._out: list[Command] = []
        self._instances: dict[tuple[str, str], Instance] = {}
        self.started = False
        self.rules = rules.rules if isinstance(rules, RuleSet) else list(rules)
        context = CampusContext(campus)
        for rule in self.rules:
            for room_id in rule.rooms:
                self._add_instance(rule, room_id, context.attributes[room_id], now)
        self._timers.schedule(now + settle, self._start)
        for instance in self._instances.values():
            instance.evaluate(now, "start-up")
        self._drain(now)

    # -- the public API -------------------------------------------------------------------

    def on_reading(self, reading: Reading) -> list[Command]:
        """Take one reading (its `ts` is the current time); the commands it causes."""
        out = self._begin(reading.ts)
        self.stats.readings += 1
        point = self._points.get(reading.point)
        if point is None:
            self.stats.not_a_point += 1
            return out
        now = self._clock.now
        value = self._accept(point, reading)
        if value is not UNKNOWN:
            point.last_seen = now
            stale_after = point.spec.stale_after
            if stale_after is not None and not point.stale_armed:
                point.stale_armed = True
                self._timers.schedule(now + stale_after, lambda t: self._stale_check(point, t))
        if value != point.value:
            point.value = value
            for instance in point.readers:
                instance.evaluate(now, point.spec.id)
        else:
            for instance in point.aged:
                instance.evaluate(now, point.spec.id)
        self._drain(now)
        return out

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
        if until <= self._clock.now:
            raise ValueError(f"override of {actuator_id} must end in the future")
        if not target.arbiter.spec.accepts(value):
            raise ValueError(f"{actuator_id} does not accept {value!r}")
        reason = f"override by {who} until {self.clock_text(until)} (override, slot 8)"
        self._changed(target, target.arbiter.override(value, who, until, reason), "override")
        self._drain(self._clock.now)
        return out

    def release_override(self, actuator_id: str, now: float) -> list[Command]:
        out = self._begin(now)
        target = self._actuator(actuator_id)
        self._changed(target, target.arbiter.release_override(), "override released")
        self._drain(self._clock.now)
        return out

    # -- introspection (TUI, explain) ------------------------------------------------------

    def instances(
        self, rule_id: str | None = None, room_id: str | None = None
    ) -> list[InstanceInfo]:
        return [
            i.info()
            for (rule, room), i in self._instances.items()
            if rule_id in (None, rule) and room_id in (None, room)
        ]

    def instance(self, rule_id: str, room_id: str) -> InstanceInfo:
        return self._instances[(rule_id, room_id)].info()

    def holders(self, actuator_id: str) -> list[Holder]:
        """Who holds the actuator's priority array, the winner first, the default last."""
        return self._actuator(actuator_id).arbiter.holders()

    def actuator_value(self, actuator_id: str) -> Value:
        """The winning value (sent, or waiting for the settle or min_switch_interval)."""
        return self._actuator(actuator_id).arbiter.value

    def point_value(self, point_id: str) -> Val:
        return self._points[point_id].value

    def describe(self, cause: str) -> str:
        """A cause for a transition record: ``b1.r101.co2=1104 ppm``, or the cause itself."""
        point = self._points.get(cause)
        if point is None:
            return cause
        return f"{cause}={format_value(point.value, point.spec.unit)}"

    def clock_text(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.tz).strftime("%H:%M")

    # -- what instances ask of the engine (rules.instance.Host) ---------------------------

    def schedule(self, at: float, action: Callable[[float], None]) -> Timer:
        return self._timers.schedule(at, action)

    def write(self, target: ActuatorState, slot: int, value: Value, source: str, why: str) -> None:
        self._changed(
            target, target.arbiter.write(slot, value, source, why), target.arbiter.spec.id
        )

    def relinquish(self, target: ActuatorState, slot: int, source: str) -> None:
        self._changed(target, target.arbiter.relinquish(slot, source), target.arbiter.spec.id)

    # -- internals -------------------------------------------------------------------------

    def _begin(self, now: float) -> list[Command]:
        """Start a public call: a fresh output list, and every timer due up to `now` fired.

        Time never goes back: a reading stamped earlier than the engine's time (drivers are not
        perfectly ordered) is taken at the engine's time.
        """
        out: list[Command] = []
        self._out = out
        timers = self._timers
        while (timer := timers.pop_due(now)) is not None:
            at = max(timer.at, self._clock.now)
            self._clock.now = at
            timer.action(at)
            self._drain(at)
        self._clock.now = max(float(now), self._clock.now)
        return out

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
        self._changed(target, target.arbiter.expire(now), "override expired")

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

    def _accept(self, point: PointState, reading: Reading) -> Val:
        """The reading's value as the point's type, or UNKNOWN (offline, or the wrong type)."""
        value = reading.value
        if reading.quality is not Quality.GOOD or value is None:
            return UNKNOWN
        if point.spec.type is ValueType.BOOL:
            if isinstance(value, bool):
                return value
        elif (
            not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
        ):
            return float(value)
        self.stats.wrong_type += 1
        return UNKNOWN

    def _actuator(self, actuator_id: str) -> ActuatorState:
        try:
            return self._actuators[actuator_id]
        except KeyError:
            raise KeyError(f"no actuator {actuator_id!r} in the campus") from None

    def _add_instance(
        self, rule: Rule, room_id: str, attributes: dict[str, Val], now: float
    ) -> None:
        cells: dict[str, PointState | ActuatorState] = {}
        for expression in rule.expressions():
            for name in expression.names:
                full = name if "." in name else f"{room_id}.{name}"
                cell = self._points.get(full) or self._actuators.get(full)
                if cell is None:
                    raise ValueError(f"rule {rule.id}: {room_id} has no {name!r}")
                cells[name] = cell
        targets = [(a, self._actuators[f"{room_id}.{a.actuator}"]) for a in rule.actions]
        instance = Instance(
            rule,
            room_id,
            InstanceEnv(cells, attributes, self._clock),
            targets=targets,
            readings=self._reason_points(rule, cells),
            host=self,
            now=now,
        )
        self._instances[(rule.id, room_id)] = instance
        aged = {n for e in rule.expressions() for n in e.aged}
        for name, cell in cells.items():
            cell.readers.append(instance)
            if name in aged and isinstance(cell, PointState):
                cell.aged.append(instance)

    @staticmethod
    def _reason_points(
        rule: Rule, cells: dict[str, PointState | ActuatorState]
    ) -> list[tuple[str, PointState]]:
        """The points a reason shows, in the order the rule's text first names them."""
        text = " ".join(e.text for e in rule.expressions())
        points = [(n, c) for n, c in cells.items() if isinstance(c, PointState)]
        return sorted(points, key=lambda item: (_first_index(text, item[0]), item[0]))


def _first_index(text: str, name: str) -> int:
    index = text.find(name)
    return index if index >= 0 else len(text)
