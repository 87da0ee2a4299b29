"""The live rule instances of an engine: built once per (rule, room), indexed by what they read,
and swapped on a reload.

The index is the hot path's whole secret: each point keeps the list of instances that read it
(`PointState.readers`), so a reading re-evaluates those and nothing else. A reload swaps rules
in place: an instance whose rule did not change (same `fingerprint`) is kept as it is, with its
state and running hold timer; one whose rule changed, or that no rule covers any more, lets go
of its slots and leaves every index; new ones start inactive and are evaluated at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from campus.text import counted
from rules.build import CampusContext
from rules.instance import ActuatorState, Instance, InstanceEnv, PointState, State
from rules.schema import Rule

if TYPE_CHECKING:
    from rules.engine import Engine


def fingerprint(rule: Rule) -> str:
    """What a rule does, as a short hash: equal for a rule that only moved or got a new
    description, different when anything that changes its behaviour changed."""
    alarm = rule.alarm
    parts = [
        rule.when.text,
        rule.until.text,
        repr(rule.hold),
        repr(rule.until_for),
        str(rule.priority),
        rule.on_unknown.value,
        "|".join(f"{a.actuator}={a.value.text}" for a in rule.actions),
        "" if alarm is None else f"{alarm.severity}:{alarm.message}",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


class Roster:
    """Every instance by (rule id, room id), in load order."""

    def __init__(self, engine: Engine, campus_context: CampusContext) -> None:
        self.engine = engine
        self.context = campus_context
        self.instances: dict[tuple[str, str], Instance] = {}
        self._plans: dict[Rule, tuple[tuple[str, ...], frozenset[str], tuple[str, ...]]] = {}

    def __iter__(self) -> Iterator[Instance]:
        return iter(self.instances.values())

    def add(self, rule: Rule, room_id: str, now: float) -> Instance:
        engine = self.engine
        names, aged, shown = self._plan(rule)
        cells: dict[str, PointState | ActuatorState] = {}
        for name in names:
            cell = engine.cell(name if "." in name else f"{room_id}.{name}")
            if cell is None:
                raise ValueError(f"rule {rule.id}: {room_id} has no {name!r}")
            cells[name] = cell
        targets = [(a, engine.actuator_state(f"{room_id}.{a.actuator}")) for a in rule.actions]
        readings = [(n, c) for n in shown if isinstance(c := cells[n], PointState)]
        instance = Instance(
            rule,
            room_id,
            InstanceEnv(cells, self.context.attributes[room_id], engine.clock),
            targets=targets,
            readings=readings,
            host=engine,
            now=now,
        )
        self.instances[(rule.id, room_id)] = instance
        for name, cell in cells.items():
            cell.readers.append(instance)
            if name in aged and isinstance(cell, PointState):
                cell.aged.append(instance)
        return instance

    def _plan(self, rule: Rule) -> tuple[tuple[str, ...], frozenset[str], tuple[str, ...]]:
        """What every instance of `rule` reads, computed once per rule: the names, those read
        with age(), and the order a reason shows them in (as the rule's text first names them)."""
        plan = self._plans.get(rule)
        if plan is None:
            names = tuple(dict.fromkeys(n for e in rule.expressions() for n in e.names))
            aged = frozenset(n for e in rule.expressions() for n in e.aged)
            text = " ".join(e.text for e in rule.expressions())
            shown = tuple(sorted(names, key=lambda n: (_first_index(text, n), n)))
            plan = self._plans[rule] = (names, aged, shown)
        return plan

    def remove(self, instance: Instance, now: float, cause: str) -> None:
        """Relinquish its slots, clear its alarm, stop its timers, and drop it from every
        index."""
        instance.disable(now, cause)
        for cell in instance.env.cells.values():
            if instance in cell.readers:
                cell.readers.remove(instance)
            if isinstance(cell, PointState) and instance in cell.aged:
                cell.aged.remove(instance)
        del self.instances[(instance.rule.id, instance.room)]
        self.engine.alarm_book.drop(f"{instance.rule.id}@{instance.room}")

    def swap(self, rules: list[Rule], now: float) -> tuple[list[str], list[Instance]]:
        """Replace the rules; the diff lines, and the new instances (to evaluate)."""
        old = {rule.id: rule for rule in self.engine.rules}
        new = {rule.id: rule for rule in rules}
        keep: dict[str, bool] = {
            rid: fingerprint(rule) == fingerprint(old[rid])
            for rid, rule in new.items()
            if rid in old
        }
        diff: list[str] = []
        for rid, rule in old.items():
            if rid not in new:
                diff.append(f"- rule {rid} ({counted(len(rule.rooms), 'room')})")
        for (rid, room), instance in list(self.instances.items()):
            if not keep.get(rid, False):
                why = "rule removed" if rid not in new else "rule changed"
                self.remove(instance, now, f"reload: {why}")
            elif room not in new[rid].rooms:
                self.remove(instance, now, "reload: room no longer covered")
        added: list[Instance] = []
        for rid, rule in new.items():
            if rid not in old:
                diff.append(f"+ rule {rid} ({counted(len(rule.rooms), 'room')})")
            elif not keep[rid]:
                diff.append(f"~ rule {rid}: {', '.join(_changes(old[rid], rule))}")
            else:
                gone = sorted(set(old[rid].rooms) - set(rule.rooms))
                came = sorted(set(rule.rooms) - set(old[rid].rooms))
                if gone or came:
                    rooms = [*(f"+{r}" for r in came), *(f"-{r}" for r in gone)]
                    diff.append(f"~ rule {rid}: rooms {' '.join(rooms)}")
            for room in rule.rooms:
                kept = self.instances.get((rid, room))
                if kept is None:
                    added.append(self.add(rule, room, now))
                else:
                    kept.rule = rule
        self.instances = {
            (rule.id, room): self.instances[(rule.id, room)]
            for rule in rules
            for room in rule.rooms
        }
        return diff, added

    def active_alarm_ids(self) -> set[str]:
        return {
            f"{i.rule.id}@{i.room}"
            for i in self.instances.values()
            if i.rule.alarm is not None and i.state in (State.ACTIVE, State.RELEASING)
        }


def _changes(old: Rule, new: Rule) -> list[str]:
    checks = {
        "when": old.when.text != new.when.text,
        "until": old.until.text != new.until.text
        and not (_default_until(old) and _default_until(new)),
        "for": old.hold != new.hold,
        "until_for": old.until_for != new.until_for,
        "priority": old.priority != new.priority,
        "on_unknown": old.on_unknown != new.on_unknown,
        "set": [(a.actuator, a.value.text) for a in old.actions]
        != [(a.actuator, a.value.text) for a in new.actions],
        "alarm": (old.alarm and (old.alarm.severity, old.alarm.message))
        != (new.alarm and (new.alarm.severity, new.alarm.message)),
    }
    return [f"{key} changed" for key, changed in checks.items() if changed] or ["changed"]


def _default_until(rule: Rule) -> bool:
    return rule.until.text == f"not ({rule.when.text})"


def _first_index(text: str, name: str) -> int:
    index = text.find(name)
    return index if index >= 0 else len(text)
