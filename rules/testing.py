"""`campusctl rules test`: run the `tests:` of rules files on a virtual clock.

Each test gets a fresh engine with only its own file's rules (so a file's tests do not change
meaning when other files are added), no start-up settle, and time that moves only from step to
step: `at: 2m` fires every hold timer due by then, in order, then feeds the step's readings,
then checks `expect:`. A test stops at its first mismatch and says what was expected, what it
got, and why (who holds the actuator, the state of the rules that write it and what keeps them
from being active), which is most of what an author needs to fix either the rule or the test.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from campus.model import Campus
from campus.problems import Position, Problem
from campus.types import Quality, Reading, Value
from rules.arbiter import DEFAULT_SLOT
from rules.engine import Engine
from rules.explain import explain_instance
from rules.instance import State
from rules.schema import ExpectSection, Rule, RuleSet, StepSection, TestSection

DEFAULT_START = "2025-01-06 12:00"
"""A Monday noon, in the site's time zone, when a test gives no `start:`."""


@dataclass
class TestResult:
    """One test: passed, or the first mismatch (and why)."""

    __test__ = False  # not a pytest test class

    file: str
    name: str
    pos: Position | None
    passed: bool = True
    lines: list[str] = field(default_factory=list)

    def report(self) -> list[str]:
        head = f"{'PASS' if self.passed else 'FAIL'} {self.file}: {self.name}"
        return [head, *(f"    {line}" for line in self.lines)]


class _Mismatch(Exception):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines[0])
        self.lines = lines


def run_tests(ruleset: RuleSet, campus: Campus) -> list[TestResult]:
    results: list[TestResult] = []
    for file, tests in ruleset.tests.items():
        rules = [rule for rule in ruleset.rules if rule.pos.file == file]
        for test in tests:
            results.append(run_test(file, test, rules, campus))
    return results


def run_test(file: str, test: TestSection, rules: list[Rule], campus: Campus) -> TestResult:
    result = TestResult(file, test.name, test.pos)
    try:
        _Run(test, rules, campus).run()
    except _Mismatch as failure:
        result.passed = False
        result.lines = failure.lines
    return result


class _Run:
    def __init__(self, test: TestSection, rules: list[Rule], campus: Campus) -> None:
        self.test = test
        self.rules = rules
        self.campus = campus
        self.tz = ZoneInfo(campus.site.timezone)
        self.room = self._room()
        self.start = self._start()
        self.engine = Engine(campus, rules, self.start, settle=0.0)
        self.engine.advance(self.start)

    def fail(self, pos: Position | None, message: str, *why: str) -> _Mismatch:
        where = f"{pos}: " if pos is not None else ""
        return _Mismatch([f"{where}{message}", *why])

    def _room(self) -> str:
        if self.test.room is not None:
            room = self.test.room.value
            rooms = [r.id for r in self.campus.rooms]
            if room not in rooms:
                raise self.fail(self.test.room.pos, f"no room {room!r}{_hint(room, rooms)}")
            return room
        covered = {room for rule in self.rules for room in rule.rooms}
        for candidate in self.campus.rooms:
            if candidate.id in covered:
                return candidate.id
        raise self.fail(self.test.pos, "the file's rules cover no room: give room:")

    def _start(self) -> float:
        text = self.test.start.value if self.test.start is not None else DEFAULT_START
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            pos = self.test.start.pos if self.test.start else None
            raise self.fail(pos, f"start: {text!r} is not a time like 2026-11-23 08:00") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return moment.timestamp()

    def run(self) -> None:
        last = 0.0
        for index, step in enumerate(self.test.steps, 1):
            at = float(step.at.value)
            if at < last:
                raise self.fail(step.at.pos, f"step {index}: at {at:g}s is before the step before")
            last = at
            now = self.start + at
            self.engine.advance(now)
            for name, value in step.readings.items():
                self.engine.on_reading(self._reading(name, value.value, value.pos, now))
            if step.expect is not None:
                self._check(index, step, step.expect)

    def _reading(
        self, name: str, value: float | bool | str | None, pos: Position, now: float
    ) -> Reading:
        full = name if "." in name else f"{self.room}.{name}"
        points = self.engine.points()
        if full not in points:
            room_points = [p.rsplit(".", 1)[1] for p in points if p.startswith(self.room + ".")]
            raise self.fail(
                pos, f"readings: {self.room} has no point {name!r}" + _hint(name, room_points)
            )
        if value is None or value == "unknown":
            return Reading(full, None, now, Quality.UNAVAILABLE)
        if isinstance(value, str):
            raise self.fail(
                pos, f"readings: {name}: give a number, on/off, or unknown, not {value!r}"
            )
        return Reading(full, value, now, Quality.GOOD)

    def _check(self, index: int, step: StepSection, expect: ExpectSection) -> None:
        when = f"step {index} (at {_clock(float(step.at.value))})"
        for name, wanted in expect.values.items():
            full = name if "." in name else f"{self.room}.{name}"
            if full not in self.engine.actuator_ids():
                here = [a.name for a in self.campus.room(self.room).actuators.values()]
                raise self.fail(
                    wanted.pos, f"expect: {self.room} has no actuator {name!r}" + _hint(name, here)
                )
            got = self._actuator_text(full)
            if not self._matches(full, wanted.value):
                raise self.fail(
                    wanted.pos,
                    f"{when}: {name}: expected {_show(wanted.value)}, got {got}",
                    *self._why_actuator(full),
                )
        if expect.alarms is not None:
            got_alarms = sorted(
                a.rule for a in self.engine.alarms() if a.room == self.room and a.active
            )
            wanted_alarms = sorted(expect.alarms.value)
            if got_alarms != wanted_alarms:
                raise self.fail(
                    expect.alarms.pos,
                    f"{when}: alarms: expected {wanted_alarms}, got {got_alarms}",
                    *self._why_rules(set(wanted_alarms) ^ set(got_alarms)),
                )
        if expect.active is not None:
            got_active = sorted(
                i.rule.id
                for i in self.engine.live_instances(room_id=self.room)
                if i.state in (State.ACTIVE, State.RELEASING)
            )
            wanted_active = sorted(expect.active.value)
            unknown = set(wanted_active) - {r.id for r in self.rules}
            if unknown:
                name = sorted(unknown)[0]
                raise self.fail(
                    expect.active.pos,
                    f"active: no rule {name!r} in this file"
                    + _hint(name, [r.id for r in self.rules]),
                )
            if got_active != wanted_active:
                raise self.fail(
                    expect.active.pos,
                    f"{when}: active: expected {wanted_active}, got {got_active}",
                    *self._why_rules(set(wanted_active) ^ set(got_active)),
                )

    def _matches(self, actuator: str, wanted: float | bool | str) -> bool:
        arbiter = self.engine.arbiter(actuator)
        if wanted == "default":
            return arbiter.winner.slot == DEFAULT_SLOT
        if isinstance(wanted, str):
            raise self.fail(
                None, f"expect: {actuator}: give on/off, a number or default, not {wanted!r}"
            )
        value: Value = arbiter.value
        if isinstance(wanted, bool) or isinstance(value, bool):
            return value is wanted
        return math.isclose(value, wanted, abs_tol=1e-6)

    def _actuator_text(self, actuator: str) -> str:
        winner = self.engine.arbiter(actuator).winner
        if winner.slot == DEFAULT_SLOT:
            return f"default ({_show(winner.value)})"
        return f"{_show(winner.value)} (from {winner.source}, slot {winner.slot})"

    def _why_actuator(self, actuator: str) -> list[str]:
        name = actuator.rsplit(".", 1)[1]
        writers = {r.id for r in self.rules if any(a.actuator == name for a in r.actions)}
        lines = [f"why: {self.engine.arbiter(actuator).winner.reason}"]
        return lines + self._why_rules(writers)

    def _why_rules(self, rule_ids: set[str]) -> list[str]:
        lines: list[str] = []
        for instance in self.engine.live_instances(room_id=self.room):
            if instance.rule.id not in rule_ids:
                continue
            data = explain_instance(self.engine, instance)
            since = _clock(instance.since - self.start)
            lines.append(
                f"rule {instance.rule.id} is {instance.state.value} since {since} "
                f"({instance.cause})"
            )
            lines += [f"  {line}" for line in data["why"]]  # type: ignore[attr-defined]
        return lines


def problems_of(results: list[TestResult]) -> list[Problem]:
    """Failed tests as problems (for editors and `rules check`)."""
    return [
        Problem(r.pos or Position(r.file, 1, 1), f"test {r.name!r} fails: {r.lines[0]}")
        for r in results
        if not r.passed
    ]


def _hint(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _show(value: float | bool | str) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float | int):
        return f"{value:g}"
    return value


def _clock(seconds: float) -> str:
    """``2m``, ``1h05m``, ``90s``: a test-relative time as an author writes it."""
    seconds = round(seconds)
    if seconds % 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}m"
