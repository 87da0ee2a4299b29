"""What an engine tells the world besides commands: each rule transition, and alarms raised,
cleared and acknowledged (rules.events), and the last transitions each instance keeps for
`explain`.

An `alarm:` rule raises its alarm when its instance becomes active and clears it when the
instance lets go (releasing still counts as active); the message is formatted at that moment
from the instance's own values.
"""

from __future__ import annotations

from collections.abc import Callable

from rules.alarms import Alarm, AlarmBook
from rules.events import AlarmChanged, Transition
from rules.instance import Instance, State

HISTORY = 5
"""Transitions kept per instance for `explain`."""
ON = (State.ACTIVE, State.RELEASING)


class Reporter:
    def __init__(self, listener: Callable[[object], None] | None) -> None:
        self.listener = listener
        """Gets every Transition and AlarmChanged (the controller's bus)."""
        self.book = AlarmBook()
        self.alarms_changed = False
        """An alarm was raised, cleared or acknowledged since the owner last reset this."""

    def emit(self, event: object) -> None:
        if isinstance(event, AlarmChanged):
            self.alarms_changed = True
        if self.listener is not None:
            self.listener(event)

    def transition(self, instance: Instance, old: State, now: float) -> None:
        new = instance.state
        history = instance.history
        if history is None:
            history = instance.history = []
        elif len(history) >= HISTORY:
            del history[0]
        history.append((now, old, new, instance.cause))
        rule = instance.rule
        if self.listener is not None:
            self.listener(
                Transition(rule.id, instance.room, old.value, new.value, now, instance.cause)
            )
        alarm = rule.alarm
        if alarm is None:
            return
        if new in ON and old not in ON:
            message = alarm.format(instance.env)
            self.emit(
                AlarmChanged(self.book.raise_(rule.id, instance.room, alarm.severity, message, now))
            )
        elif old in ON and new not in ON:
            cleared = self.book.clear(f"{rule.id}@{instance.room}", now)
            if cleared is not None:
                self.emit(AlarmChanged(cleared))

    def seen(self, instance: Instance, now: float) -> None:
        self.book.seen(f"{instance.rule.id}@{instance.room}", now)

    def acknowledge(self, alarm_id: str, who: str, now: float) -> Alarm:
        """Raises KeyError for an alarm not in the list."""
        alarm = self.book.acknowledge(alarm_id, who, now)
        self.emit(AlarmChanged(alarm))
        return alarm

    def clear_orphans(self, live: set[str], now: float) -> None:
        """Clear restored alarms whose instance did not come back active (`live`: the ids of
        the alarm instances that are active)."""
        for alarm in self.book.all():
            if alarm.active and alarm.id not in live:
                cleared = self.book.clear(alarm.id, now)
                if cleared is not None:
                    self.emit(AlarmChanged(cleared))
