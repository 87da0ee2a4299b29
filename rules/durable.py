"""What of an engine must survive a restart, as plain records (the controller stores them in
SQLite, `controller.state`).

- Instances that are not plainly inactive: their state, since when, and the deadline of a
  running hold, so a restart in the middle of a `for: 10m` fires at the original time. Each
  record carries its rule's fingerprint: state saved for a rule that has changed since is
  dropped, never applied to different logic.
- Overrides with their expiry (an override that expired while the controller was down is not
  restored).
- Alarms (the list staff work through), and the rules staff disabled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from campus.types import Value
from rules.alarms import Alarm
from rules.arbiter import OVERRIDE, OVERRIDE_PREFIX
from rules.instance import Instance, State
from rules.roster import fingerprint

if TYPE_CHECKING:
    from rules.engine import Engine


@dataclass(frozen=True, slots=True)
class SavedInstance:
    rule: str
    room: str
    fingerprint: str
    state: str
    since: float
    active_since: float
    hold_until: float | None


@dataclass(frozen=True, slots=True)
class SavedOverride:
    actuator: str
    value: Value
    who: str
    until: float
    since: float
    reason: str


@dataclass
class Saved:
    instances: list[SavedInstance] = field(default_factory=list)
    overrides: list[SavedOverride] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)


def save_instance(instance: Instance) -> SavedInstance | None:
    """The record for one instance; None when it is plainly inactive (nothing to keep)."""
    if instance.state is State.INACTIVE:
        return None
    return SavedInstance(
        instance.rule.id,
        instance.room,
        fingerprint(instance.rule),
        instance.state.value,
        instance.since,
        instance.active_since,
        instance.hold_until,
    )


def capture(engine: Engine) -> Saved:
    """Everything durable, now (a full save; `take_touched` drives the incremental one)."""
    saved = Saved(disabled=set(engine.disabled), alarms=engine.alarms())
    for instance in engine.live_instances():
        record = save_instance(instance)
        if record is not None:
            saved.instances.append(record)
    saved.overrides = overrides(engine)
    return saved


def overrides(engine: Engine) -> list[SavedOverride]:
    found: list[SavedOverride] = []
    for actuator_id in engine.actuator_ids():
        for holder in engine.holders(actuator_id):
            if holder.slot == OVERRIDE and holder.source.startswith(OVERRIDE_PREFIX):
                found.append(
                    SavedOverride(
                        actuator_id,
                        holder.value,
                        holder.source.removeprefix(OVERRIDE_PREFIX),
                        holder.until or 0.0,
                        holder.since or 0.0,
                        holder.reason,
                    )
                )
    return found


def apply(engine: Engine, saved: Saved, now: float) -> tuple[list[str], Saved]:
    """Take up saved state in a fresh engine, before its first evaluation: what was dropped and
    why, and what was taken up (both for the log)."""
    notes: list[str] = []
    taken = Saved()
    future = [r for r in saved.instances if r.since > now]
    if future:
        notes.append(
            f"{len(future)} saved rule states are later than the clock ({now:.0f}): not restored"
        )
    for record in saved.instances:
        if record.since > now:
            continue
        found = engine.live_instances(record.rule, record.room)
        if not found:
            notes.append(f"{record.rule}@{record.room}: no such rule instance any more")
            continue
        instance = found[0]
        if fingerprint(instance.rule) != record.fingerprint:
            notes.append(f"{record.rule}@{record.room}: the rule changed; starting inactive")
            continue
        instance.restore(State(record.state), record.since, record.active_since, record.hold_until)
        taken.instances.append(record)
    for override in saved.overrides:
        if override.until <= now:
            notes.append(f"override of {override.actuator} expired while stopped")
            continue
        if override.actuator not in engine.actuator_ids():
            notes.append(f"override of {override.actuator}: no such actuator any more")
            continue
        engine.restore_override(override)
        taken.overrides.append(override)
    live = {f"{i.rule.id}@{i.room}" for i in engine.live_instances()}
    for alarm in saved.alarms:
        if alarm.id in live:
            engine.alarm_book.restore(alarm)
            taken.alarms.append(alarm)
    taken.disabled = saved.disabled & set(engine.rule_ids())
    engine.disabled |= taken.disabled
    return notes, taken
