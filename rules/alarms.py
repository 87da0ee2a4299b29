"""Alarms: raised when an `alarm:` rule activates, cleared when it releases, acknowledged by
staff.

One alarm per rule instance, with the id ``rule@room``. An alarm stays in the list while it is
active or not yet acknowledged (a cleared alarm nobody saw is still news); raised again before
that, it keeps its first_seen and counts as the same alarm. Acknowledging an inactive alarm
removes it; acknowledging an active one keeps it until it clears.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Alarm:
    id: str
    """``rule@room``, e.g. ``co2-alarm@b1.r101``."""
    rule: str
    room: str
    severity: str
    """``info``, ``warning`` or ``critical``."""
    message: str
    """The rule's message formatted with the values at the moment it was (last) raised."""
    first_seen: float
    last_seen: float
    """The last time the alarm's condition was seen to hold (raised, or re-evaluated active)."""
    active: bool
    acknowledged_by: str | None = None
    acknowledged_at: float | None = None


class AlarmBook:
    """The current alarms by id; every change returns the new record for the event stream."""

    def __init__(self) -> None:
        self._alarms: dict[str, Alarm] = {}

    def __contains__(self, alarm_id: str) -> bool:
        return alarm_id in self._alarms

    def get(self, alarm_id: str) -> Alarm | None:
        return self._alarms.get(alarm_id)

    def all(self) -> list[Alarm]:
        """Active first, then by first_seen."""
        return sorted(self._alarms.values(), key=lambda a: (not a.active, a.first_seen, a.id))

    def raise_(self, rule: str, room: str, severity: str, message: str, now: float) -> Alarm:
        alarm_id = f"{rule}@{room}"
        old = self._alarms.get(alarm_id)
        if old is None:
            alarm = Alarm(alarm_id, rule, room, severity, message, now, now, True)
        else:
            alarm = replace(
                old,
                severity=severity,
                message=message,
                last_seen=now,
                active=True,
                acknowledged_by=None,
                acknowledged_at=None,
            )
        self._alarms[alarm_id] = alarm
        return alarm

    def seen(self, alarm_id: str, now: float) -> None:
        """The condition still holds (no event: last_seen is read with the list)."""
        alarm = self._alarms.get(alarm_id)
        if alarm is not None and alarm.active:
            self._alarms[alarm_id] = replace(alarm, last_seen=now)

    def clear(self, alarm_id: str, now: float) -> Alarm | None:
        alarm = self._alarms.get(alarm_id)
        if alarm is None or not alarm.active:
            return None
        cleared = replace(alarm, active=False, last_seen=now)
        if cleared.acknowledged_by is not None:
            del self._alarms[alarm_id]
        else:
            self._alarms[alarm_id] = cleared
        return cleared

    def acknowledge(self, alarm_id: str, who: str, now: float) -> Alarm:
        """Raises KeyError for an alarm that is not in the list."""
        alarm = replace(self._alarms[alarm_id], acknowledged_by=who, acknowledged_at=now)
        if alarm.active:
            self._alarms[alarm_id] = alarm
        else:
            del self._alarms[alarm_id]
        return alarm

    def restore(self, alarm: Alarm) -> None:
        """Put back an alarm read from the state file."""
        self._alarms[alarm.id] = alarm

    def drop(self, alarm_id: str) -> None:
        """Forget an alarm whose rule instance no longer exists (after a reload)."""
        self._alarms.pop(alarm_id, None)
