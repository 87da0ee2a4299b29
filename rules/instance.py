"""One rule in one room: its state machine, and the Env its expressions read.

inactive -(when true)-> pending -(held `for`)-> active -(until true)-> releasing
-(held `until_for`)-> inactive. Holds with a zero duration are skipped. A value that breaks a
hold (when false while pending, until false while releasing) resets it at once.

Unknown values (RULES.md "Unknown values"): a condition that is UNKNOWN neither confirms nor
breaks anything. With `on_unknown: hold` the instance keeps its state; a hold timer that ends
while the condition is unknown leaves the instance waiting (`hold_done`) and the next known
value decides: true completes the transition at once, false falls back. With
`on_unknown: release` an unknown condition drops a pending or active instance to inactive.
A point coming back from unknown is just a new value: only what the value says can cause a
transition. A `set:` value that evaluates to UNKNOWN keeps the last value written.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from campus.model import ActuatorSpec, ActuatorType, PointSpec, ValueType
from campus.types import Value
from rules.arbiter import Arbiter
from rules.schema import OnUnknown, Rule, SetAction
from rules.timers import Timer, cancel
from rules.values import UNKNOWN, Unknown, Val, format_value


class State(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    """`when` is true; waiting for it to hold `for`."""
    ACTIVE = "active"
    RELEASING = "releasing"
    """`until` is true; waiting for it to hold `until_for` (still writing its values)."""


INACTIVE, PENDING, ACTIVE = State.INACTIVE, State.PENDING, State.ACTIVE


LEVEL = ActuatorType.LEVEL


def _plausible(spec: PointSpec) -> tuple[float, float]:
    if spec.type is not ValueType.NUMBER:
        return math.inf, -math.inf
    return spec.range if spec.range is not None else (-sys.float_info.max, sys.float_info.max)


class PointState:
    """The live value of one point, shared by every instance that reads it."""

    __slots__ = (
        "aged",
        "boolean",
        "high",
        "last_seen",
        "low",
        "readers",
        "spec",
        "stale_armed",
        "value",
    )

    def __init__(self, spec: PointSpec) -> None:
        self.spec = spec
        self.boolean = spec.type is ValueType.BOOL
        self.low, self.high = _plausible(spec)
        """A float in [low, high] is taken as it is (`Engine._take`'s common case): the point's
        plausible range, or every finite float; an empty range for a boolean point."""
        self.value: Val = UNKNOWN
        self.last_seen: float | None = None
        self.readers: list[Instance] = []
        """Instances to re-evaluate when the value changes."""
        self.aged: list[Instance] = []
        """Instances using age() of it: re-evaluated on every reading, even the same value."""
        self.stale_armed = False


class ActuatorState:
    """An actuator's priority array, the instances that read it, and its pending timer."""

    __slots__ = ("arbiter", "readers", "timer")
    last_seen = None

    def __init__(self, spec: ActuatorSpec) -> None:
        self.arbiter = Arbiter(spec)
        self.readers: list[Instance] = []
        self.timer: Timer | None = None

    @property
    def value(self) -> Val:
        return self.arbiter.winner.value


class EngineTime:
    """The engine's current time, shared by every Env."""

    __slots__ = ("now",)

    def __init__(self, now: float) -> None:
        self.now = now


class InstanceEnv:
    """Name -> live cell for one room; the Env the rule's closures read."""

    __slots__ = ("attributes", "cells", "clock")

    def __init__(
        self,
        cells: dict[str, PointState | ActuatorState],
        attributes: dict[str, Val],
        clock: EngineTime,
    ) -> None:
        self.cells = cells
        self.attributes = attributes
        self.clock = clock

    @property
    def now(self) -> float:
        return self.clock.now

    def value(self, key: str) -> Val:
        return self.cells[key].value

    def last_seen(self, key: str) -> float | None:
        return self.cells[key].last_seen

    def attribute(self, key: str) -> Val:
        return self.attributes.get(key, UNKNOWN)


class Host(Protocol):
    """What an instance asks of the engine."""

    def schedule(self, at: float, action: Callable[[float], None]) -> Timer: ...

    def write(
        self,
        target: ActuatorState,
        slot: int,
        value: Value,
        source: str,
        why: str | Callable[[], str],
    ) -> None: ...

    def relinquish(self, target: ActuatorState, slot: int, source: str) -> None: ...

    def clock_text(self, t: float) -> str: ...

    def describe(self, cause: str) -> str: ...

    def transition(self, instance: Instance, old: State, now: float) -> None: ...

    def alarm_seen(self, instance: Instance, now: float) -> None: ...


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """A snapshot for the TUI and `explain`."""

    rule: str
    room: str
    state: State
    since: float
    cause: str
    """What made the last transition (a point and its value, a timer, the clock)."""
    values: dict[str, Value]
    """What it currently writes, per actuator name."""


class Instance:
    __slots__ = (
        "active_since",
        "cause",
        "enabled",
        "env",
        "history",
        "hold_done",
        "hold_timer",
        "host",
        "readings",
        "room",
        "rule",
        "since",
        "since_text",
        "source",
        "state",
        "targets",
        "time_timer",
        "timed",
        "written",
    )

    def __init__(
        self,
        rule: Rule,
        room: str,
        env: InstanceEnv,
        *,
        targets: list[tuple[SetAction, ActuatorState]],
        readings: list[tuple[str, PointState]],
        host: Host,
        now: float,
    ) -> None:
        self.rule = rule
        self.room = room
        self.env = env
        self.targets = targets
        self.readings = readings
        """The points named in a command's reason, in the order the rule mentions them."""
        self.host = host
        self.source = f"rule:{rule.id}"
        self.state = State.INACTIVE
        self.since = now
        self.active_since = now
        self.since_text = ""
        self.cause = "start-up"
        self.hold_done = False
        self.hold_timer: Timer | None = None
        self.time_timer: Timer | None = None
        self.written: dict[str, Value] = {}
        self.timed = bool(rule.timed)
        self.enabled = True
        self.history: list[tuple[float, State, State, str]] | None = None
        """The last transitions (time, from, to, cause), oldest first; None until the first."""

    def info(self) -> InstanceInfo:
        return InstanceInfo(
            self.rule.id, self.room, self.state, self.since, self.cause, dict(self.written)
        )

    def evaluate(self, now: float, cause: str) -> None:
        """Re-evaluate after an input changed (`cause`: a point id, or what else happened)."""
        if not self.enabled:
            return
        rule = self.rule
        state = self.state
        if state is INACTIVE or state is PENDING:
            value = rule.when.evaluate(self.env)
            if value is not False or state is not INACTIVE:  # inactive and false: nothing to do
                self._check_when(now, cause, value)
        else:
            value = rule.until.evaluate(self.env)
            if value is not False or state is not ACTIVE:
                self._check_until(now, cause, value)
            if self.state is not INACTIVE:
                self._write(now)
                if rule.alarm is not None:
                    self.host.alarm_seen(self, now)
        if self.timed:
            self._wake_on_time(now)

    def _check_when(self, now: float, cause: str, value: Val) -> None:
        rule = self.rule
        if value is True:
            if self.state is State.INACTIVE:
                if rule.hold <= 0:
                    self._activate(now, cause)
                else:
                    self._enter(State.PENDING, now, cause)
                    self._arm(now + rule.hold)
            elif self.hold_done:
                self._activate(now, cause)
        elif value is False:
            if self.state is State.PENDING:
                self._enter(State.INACTIVE, now, f"hold broken by {self.host.describe(cause)}")
        elif self.state is State.PENDING and rule.on_unknown is OnUnknown.RELEASE:
            self._enter(State.INACTIVE, now, f"unknown: {self.host.describe(cause)}")

    def _check_until(self, now: float, cause: str, value: Val) -> None:
        rule = self.rule
        if value is True:
            if self.state is State.ACTIVE:
                if rule.until_for <= 0:
                    self._deactivate(now, cause)
                else:
                    self._enter(State.RELEASING, now, cause)
                    self._arm(now + rule.until_for)
            elif self.hold_done:
                self._deactivate(now, cause)
        elif value is False:
            if self.state is State.RELEASING:
                self._enter(State.ACTIVE, now, f"release broken by {self.host.describe(cause)}")
                self.since = self.active_since
        elif rule.on_unknown is OnUnknown.RELEASE:
            self._deactivate(now, f"unknown: {self.host.describe(cause)}")

    def on_hold_timer(self, now: float) -> None:
        """The `for`/`until_for` hold ran out."""
        self.hold_timer = None
        if self.state is State.PENDING:
            value = self.rule.when.evaluate(self.env)
            if value is True:
                self._activate(now, f"held {self.rule.hold:g}s")
            elif isinstance(value, Unknown):
                self.hold_done = True
            else:
                self._enter(State.INACTIVE, now, "condition false at the end of the hold")
        elif self.state is State.RELEASING:
            value = self.rule.until.evaluate(self.env)
            if value is True:
                self._deactivate(now, f"release held {self.rule.until_for:g}s")
            elif isinstance(value, Unknown):
                self.hold_done = True
            else:
                self._enter(State.ACTIVE, now, "release condition false at the end of the hold")
                self.since = self.active_since
                self._write(now)

    def _enter(self, state: State, now: float, cause: str) -> None:
        cancel(self.hold_timer)
        self.hold_timer = None
        self.hold_done = False
        old = self.state
        self.state = state
        self.since = now
        self.cause = self.host.describe(cause)
        self.host.transition(self, old, now)

    def disable(self, now: float, cause: str) -> None:
        """Go inactive and stay there: relinquish every slot, stop every timer."""
        if self.state is not State.INACTIVE:
            self._deactivate(now, cause)
        cancel(self.time_timer)
        self.time_timer = None
        self.enabled = False

    def enable(self, now: float) -> None:
        self.enabled = True
        self.evaluate(now, "enabled")

    def restore(
        self, state: State, since: float, active_since: float, hold_until: float | None
    ) -> None:
        """Take up a state saved before a restart or carried over a reload.

        A hold that was running keeps its original deadline, so a restart in the middle of a
        ten-minute `for:` fires when it would have fired anyway. An active instance writes its
        values again at once (constants now, formulas once their points have readings).
        """
        self.state = state
        self.since = since
        self.active_since = active_since
        self.cause = "restored"
        if state is State.ACTIVE or state is State.RELEASING:
            self.since_text = self.host.clock_text(active_since)
        if hold_until is not None and state in (State.PENDING, State.RELEASING):
            self._arm(hold_until)

    @property
    def hold_until(self) -> float | None:
        timer = self.hold_timer
        if timer is None or timer.cancelled:
            return None
        return timer.at

    def _arm(self, at: float) -> None:
        self.hold_timer = self.host.schedule(at, self.on_hold_timer)

    def _activate(self, now: float, cause: str) -> None:
        self._enter(State.ACTIVE, now, cause)
        self.active_since = now
        self.since_text = self.host.clock_text(now)
        self._write(now)

    def _deactivate(self, now: float, cause: str) -> None:
        self._enter(State.INACTIVE, now, cause)
        slot = self.rule.priority
        for action, target in self.targets:
            if self.written.pop(action.actuator, None) is not None:
                self.host.relinquish(target, slot, self.source)

    def _write(self, now: float) -> None:
        """Write each `set:` value that changed; UNKNOWN keeps the last value written."""
        env, written = self.env, self.written
        for action, target in self.targets:
            if action.value.is_constant and action.actuator in written:
                continue  # the same value every time: written already
            value = action.value.evaluate(env)
            if value is UNKNOWN or isinstance(value, str) or math.isnan(value):
                continue
            spec = target.arbiter.spec
            if spec.type is LEVEL:
                low, high = spec.range
                value = min(high, max(low, float(value)))
            if written.get(action.actuator) == value:
                continue
            written[action.actuator] = value
            self.host.write(target, self.rule.priority, value, self.source, self.reason)

    def reason(self) -> str:
        rule = self.rule
        values = ", ".join(
            f"{name}={format_value(point.value, point.spec.unit)}" for name, point in self.readings
        )
        head = f"rule {rule.id} ({rule.level}, slot {rule.priority}) active since {self.since_text}"
        return f"{head}: {values}" if values else head

    def _wake_on_time(self, now: float) -> None:
        """Keep one timer at the next moment time alone may change an expression's value."""
        best: float | None = None
        for expression in self.rule.timed:
            t = expression.next_change(self.env)
            if t is not None and (best is None or t < best):
                best = t
        timer = self.time_timer
        if timer is not None and not timer.cancelled and timer.at == best:
            return
        cancel(timer)
        self.time_timer = None
        if best is not None and best != float("inf"):
            self.time_timer = self.host.schedule(best, self._on_time)

    def _on_time(self, now: float) -> None:
        self.time_timer = None
        self.evaluate(now, "the clock")
