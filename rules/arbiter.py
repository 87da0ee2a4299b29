"""The priority array of one actuator (after BACnet): who may set it, who wins, what gets sent.

Rules, staff overrides and safety logic never write a device directly; each writes into a slot
(1 = most important ... 16) and the lowest-numbered non-empty slot wins; with every slot empty
the actuator's relinquish default applies (reported as slot 17). This makes "who controls the
lights right now, and who takes over when they let go" a lookup instead of a race.

Choices, so behaviour is predictable and reproducible:

- Several holders in one slot: the highest value wins (on over off, more air, more light, the
  warmer set-point), ties to the alphabetically first source. This does not depend on the
  order in which the holders wrote, so a replay or restart gives the same answer; every holder
  is kept, so when one relinquishes the other shows through.
- Commands go out only when the winning value differs from the last value *sent*.
- Deadband (level actuators): a change smaller than `deadband` from the last sent value is
  held back; drift accumulates against the last sent value, so it is sent once it adds up. A
  change that lands on or leaves the relinquish default or an end of the range (0 and 100 %)
  always goes out: those are exact targets ("off", "fully open") that must not be lost.
- `min_switch_interval`: a change due before ``last sent + interval`` waits until then
  (`deadline`); at that moment the then-winning value is sent, if it still differs.
- Before `start` (the engine's start-up settle) nothing is sent; `start` sends the winning
  value once, whatever it is, so every device ends in a known state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from campus.model import ActuatorSpec, ActuatorType
from campus.types import Command, Value

LEVELS = {"safety": 1, "override": 8, "comfort": 10, "energy": 12, "schedule": 14}
LEVEL_NAMES = {slot: name for name, slot in LEVELS.items()}
OVERRIDE = LEVELS["override"]
DEFAULT_SLOT = 17
OVERRIDE_PREFIX = "override:"


def slot_name(slot: int) -> str:
    """``comfort``, ``priority 11``, ``default``: how a slot reads in a reason."""
    if slot == DEFAULT_SLOT:
        return "default"
    return LEVEL_NAMES.get(slot, f"priority {slot}")


class Holder(NamedTuple):
    """One entry of the priority array (a named tuple: rules write one on every change of a
    value they set, and a tuple is several times cheaper to make than a frozen dataclass)."""

    slot: int
    value: Value
    source: str
    """``rule:<id>``, ``override:<who>``, ``default``."""
    why: str | Callable[[], str]
    """The reason, or how to word it: a rule's reason quotes its readings, and is only worded
    when someone reads it (a command goes out, explain), not on every write."""
    until: float | None = None
    """When it relinquishes itself (overrides)."""
    since: float | None = None
    """When this source first wrote this slot (a new value keeps it)."""

    @property
    def reason(self) -> str:
        why = self.why
        return why if isinstance(why, str) else why()


class Arbiter:
    """The priority array and send policy of one actuator. Times are passed in, never read."""

    def __init__(self, spec: ActuatorSpec) -> None:
        self.spec = spec
        self.default = Holder(
            DEFAULT_SLOT,
            self._coerce(spec.default),
            "default",
            f"relinquish default (slot {DEFAULT_SLOT}): no rule or override holds {spec.id}",
        )
        self._slots: dict[int, dict[str, Holder]] = {}
        self.winner: Holder = self.default
        self.started = False
        self.last_sent: Value | None = None
        self.last_sent_at: float | None = None
        self.deadline: float | None = None
        """When a change held back by min_switch_interval may go out (None: nothing waits)."""
        self._expiring = False
        """Whether some holder may have an `until` (overrides): saves a scan of every slot on
        each write of a rule."""
        level = spec.type is ActuatorType.LEVEL
        self._exact = (self.default.value, *spec.range) if level else ()
        """Values a deadband never holds back: the default and both ends of the range."""

    @property
    def value(self) -> Value:
        """The winning value (what the actuator should be), whether or not it was sent yet."""
        return self.winner.value

    def write(
        self,
        slot: int,
        value: Value,
        source: str,
        reason: str | Callable[[], str],
        until: float | None = None,
        *,
        now: float | None = None,
    ) -> bool:
        """Put `source`'s value into `slot` (replacing its earlier one); True if the winning
        value changed."""
        if not 1 <= slot <= 16:
            raise ValueError(f"{self.spec.id}: slot must be 1..16, got {slot}")
        value = self._coerce(value)
        if not self.spec.accepts(value):
            raise ValueError(f"{self.spec.id} does not accept {value!r}")
        holders = self._slots.setdefault(slot, {})
        earlier = holders.get(source)
        since = now if earlier is None else earlier.since
        holders[source] = Holder(slot, value, source, reason, until, since)
        if until is not None:
            self._expiring = True
        return self._rewin()

    def relinquish(self, slot: int, source: str) -> bool:
        """Take `source`'s value out of `slot`; True if the winning value changed."""
        holders = self._slots.get(slot)
        if holders is None or holders.pop(source, None) is None:
            return False
        if not holders:
            del self._slots[slot]
        return self._rewin()

    def override(
        self, value: Value, who: str, until: float, reason: str, now: float | None = None
    ) -> bool:
        """A staff override in slot 8 until `until`; it replaces any earlier override."""
        self._drop_overrides()
        return self.write(OVERRIDE, value, OVERRIDE_PREFIX + who, reason, until, now=now)

    def release_override(self) -> bool:
        if not self._drop_overrides():
            return False
        return self._rewin()

    def expire(self, now: float) -> bool:
        """Relinquish every holder whose `until` has passed; True if the winning value changed."""
        expired = [
            (h.slot, h.source)
            for holders in self._slots.values()
            for h in holders.values()
            if h.until is not None and h.until <= now
        ]
        changed = False
        for slot, source in expired:
            changed = self.relinquish(slot, source) or changed
        return changed

    def next_expiry(self) -> float | None:
        if not self._expiring:
            return None
        times = [h.until for hs in self._slots.values() for h in hs.values() if h.until]
        self._expiring = bool(times)
        return min(times) if times else None

    def next_deadline(self) -> float | None:
        """The next time this actuator needs the engine: an expiry or a held-back send."""
        deadline, expiry = self.deadline, self.next_expiry()
        if expiry is None or (deadline is not None and deadline < expiry):
            return deadline
        return expiry

    def holders(self) -> list[Holder]:
        """Every holder, winner first, then by slot and rank; the default last."""
        ranked = [h for slot in sorted(self._slots) for h in _ranked(self._slots[slot])]
        return [*ranked, self.default]

    def start(self, now: float) -> Command:
        """End of the start-up settle: send the winning value, whatever was sent before."""
        self.started = True
        return self._send(now)

    def poll(self, now: float) -> Command | None:
        """The command to send now, if the winning value is worth sending and may go out."""
        if not self.started:
            return None
        if not self._worth_sending(self.winner.value):
            self.deadline = None
            return None
        interval = self.spec.min_switch_interval
        if self.last_sent_at is not None and now < self.last_sent_at + interval:
            self.deadline = self.last_sent_at + interval
            return None
        return self._send(now)

    def _send(self, now: float) -> Command:
        winner = self.winner
        self.last_sent = winner.value
        self.last_sent_at = now
        self.deadline = None
        return Command(
            actuator=self.spec.id,
            value=winner.value,
            ts=now,
            source=winner.source,
            priority=winner.slot,
            reason=winner.reason,
        )

    def _worth_sending(self, value: Value) -> bool:
        last = self.last_sent
        if last is None:
            return True
        if value == last:
            return False
        band = self.spec.deadband
        if self.spec.type is ActuatorType.SWITCH or band <= 0 or abs(value - last) >= band:
            return True
        exact = self._exact
        return value in exact or last in exact

    def _rewin(self) -> bool:
        before = self.winner.value
        slots = self._slots
        if slots:
            top = slots[min(slots)]
            if len(top) == 1:
                self.winner = next(iter(top.values()))
            else:
                self.winner = _ranked(top)[0]
        else:
            self.winner = self.default
        return self.winner.value != before

    def _drop_overrides(self) -> bool:
        holders = self._slots.get(OVERRIDE, {})
        dropped = [s for s in holders if s.startswith(OVERRIDE_PREFIX)]
        for source in dropped:
            del holders[source]
        if OVERRIDE in self._slots and not holders:
            del self._slots[OVERRIDE]
        return bool(dropped)

    def _coerce(self, value: Value) -> Value:
        if self.spec.type is ActuatorType.LEVEL and not isinstance(value, bool):
            return float(value)
        return value


def _ranked(holders: dict[str, Holder]) -> list[Holder]:
    return sorted(holders.values(), key=lambda h: (-float(h.value), h.source))
