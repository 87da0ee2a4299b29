"""What a rules file may say (the *Section dataclasses, decoded by campus.yamlmodel) and what a
loaded rule is (`Rule`, `RuleSet`).

Expressions are kept as `ExprText`: the scalar's own text (``on`` stays ``on``, not YAML's
True) plus where it sits in the file, so an error inside an expression points at its column.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from campus.problems import Position, Problem, Severity
from campus.yamlmodel import Duration, Located
from rules.arbiter import LEVELS, slot_name
from rules.expr import Expression
from rules.scope import Env
from rules.values import UNKNOWN, Val

RULE_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass(frozen=True, slots=True)
class ExprText:
    """An expression as written, and where."""

    text: str
    pos: Position
    inline: bool
    """True when the text maps one to one onto its line (a plain or simple quoted scalar), so
    an offset in the text is an offset in the file."""

    def at(self, offset: int) -> Position:
        """The file position of character `offset` of the text."""
        if not self.inline:
            return self.pos
        return Position(self.pos.file, self.pos.line, self.pos.col + offset)

    @classmethod
    def json_schema_of(cls) -> dict[str, Any]:
        return {
            "type": ["string", "boolean", "number"],
            "description": "an expression, like occupancy and co2 > 1000 (docs/rules.md)",
        }


@dataclass(frozen=True, slots=True)
class SetEntry:
    """One ``actuator: value`` line of `set:`."""

    actuator: Located[str]
    value: ExprText


class SetSection(tuple[SetEntry, ...]):
    """`set:` decoded in order, each key with its own position (marker type for the decoder)."""

    @classmethod
    def json_schema_of(cls) -> dict[str, Any]:
        return {
            "type": "object",
            "description": "actuator name -> value while active: a constant (on, 100) or an "
            "expression of the room's points (clamp((co2 - 600) / 4, 20, 100))",
            "additionalProperties": {"type": ["string", "boolean", "number"]},
        }


def _doc(text: str, **more: Any) -> dict[str, Any]:
    return {"doc": text, **more}


@dataclass(frozen=True)
class AlarmSection:
    """An alarm raised when the rule activates and cleared when it releases."""

    message: Located[str] = field(
        metadata=_doc("shown to staff; {co2:.0f} and {room.name} are filled in at raise time")
    )
    severity: Literal["info", "warning", "critical"] = field(
        default="warning", metadata=_doc("info, warning (default) or critical")
    )
    pos: Position | None = None


@dataclass(frozen=True)
class RuleSection:
    """One rule as written."""

    id: Located[str] = field(metadata=_doc("unique across all files: a-z, 0-9 and -"))
    when: ExprText = field(metadata=_doc("the rule activates when this is true"))
    description: str = field(default="", metadata=_doc("one sentence for people"))
    rooms: ExprText | None = field(
        default=None, metadata=_doc('which rooms get an instance, like kind == "classroom"')
    )
    hold: Duration = field(
        default=Duration(0), metadata=_doc("how long when must hold first", key="for")
    )
    until: ExprText | None = field(
        default=None, metadata=_doc("release when true (default: when `when` turns false)")
    )
    until_for: Duration = field(
        default=Duration(0), metadata=_doc("how long until must hold first")
    )
    set: SetSection = field(default_factory=SetSection)
    priority: Located[str | int] | None = field(
        default=None,
        metadata=_doc("safety, override, comfort (default), energy, schedule, or 1..16"),
    )
    on_unknown: Literal["hold", "release"] = field(
        default="hold", metadata=_doc("while a condition is unknown: keep the state, or release")
    )
    alarm: AlarmSection | None = None
    pos: Position | None = None


@dataclass(frozen=True)
class ExpectSection:
    """`expect:` of a test step: actuator values, and optionally the active alarms and rules.

    Decoded by the rules loader (marker type): any key but `alarms`/`active` is an actuator of
    the tested room (or a full actuator id) with on/off, a number, or ``default``.
    """

    values: dict[str, Located[float | bool | str]] = field(default_factory=dict)
    alarms: Located[list[str]] | None = None
    """Rule ids whose alarm is active in the room, exactly."""
    active: Located[list[str]] | None = None
    """Rule ids active in the room (active or releasing), exactly."""
    pos: Position | None = None

    @classmethod
    def json_schema_of(cls) -> dict[str, Any]:
        names = {"type": "array", "items": {"type": "string"}}
        return {
            "type": "object",
            "description": "actuator -> expected value (on/off, a number, or default); "
            "alarms: rule ids with an active alarm; active: rule ids that are active",
            "properties": {
                "alarms": {**names, "description": "rule ids whose alarm is active, exactly"},
                "active": {**names, "description": "rule ids that are active, exactly"},
            },
            "additionalProperties": {"type": ["string", "boolean", "number"]},
        }


@dataclass(frozen=True)
class StepSection:
    """One step of a test: at a time, some readings, then what must be true."""

    at: Located[Duration] = field(metadata=_doc("time since the test started, like 2m"))
    readings: dict[str, Located[float | bool | str | None]] = field(
        default_factory=dict,
        metadata=_doc("point -> value; null or unknown: the device went offline"),
    )
    expect: ExpectSection | None = None
    pos: Position | None = None


@dataclass(frozen=True)
class TestSection:
    """A test of the file's rules, on a virtual clock against fresh state."""

    __test__ = False  # not a pytest test class

    name: str = field(metadata=_doc("printed with pass/fail"))
    steps: list[StepSection] = field(metadata=_doc("in time order"))
    room: Located[str] | None = field(
        default=None, metadata=_doc("room id; default: the first room the rules cover")
    )
    start: Located[str] | None = field(
        default=None,
        metadata=_doc("local start time like 2026-11-23 08:00 (default: Monday 2025-01-06 12:00)"),
    )
    pos: Position | None = None


@dataclass(frozen=True)
class RulesFile:
    """A campusctl rules file: its rules, and tests for them (`campusctl rules test`)."""

    rules: list[RuleSection] = field(default_factory=list)
    tests: list[TestSection] = field(default_factory=list)


class OnUnknown(StrEnum):
    HOLD = "hold"
    """Keep the current state while a condition is unknown."""
    RELEASE = "release"
    """Go inactive (relinquish) while a condition is unknown."""


@dataclass(frozen=True, slots=True, eq=False)
class SetAction:
    actuator: str
    """The bare actuator name, the same in every room the rule covers."""
    value: Expression
    pos: Position


@dataclass(frozen=True, slots=True, eq=False)
class MessagePart:
    """Literal text, then (optionally) one ``{field:spec}`` of an alarm message."""

    literal: str
    value: Expression | None = None
    spec: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class AlarmRule:
    """The `alarm:` of a rule: raised on activation, cleared on release."""

    severity: str
    message: str
    pos: Position
    parts: tuple[MessagePart, ...] = ()
    """The message compiled: each ``{co2:.0f}``/``{room.name}`` is an expression of the room."""

    def format(self, env: Env) -> str:
        out: list[str] = []
        for part in self.parts:
            out.append(part.literal)
            if part.value is not None:
                value = part.value.evaluate(env)
                out.append(format_field(value, part.spec))
        return "".join(out)


def format_field(value: Val, spec: str) -> str:
    """One message field: ``unknown`` for a missing value, ``on``/``off`` for a bool."""
    if value is UNKNOWN:
        return "unknown"
    if isinstance(value, bool):
        return "on" if value else "off"
    return format(value, spec)


@dataclass(frozen=True, slots=True)
class SkippedRoom:
    room: str
    reason: str
    """What the room lacks: ``no point 'co2'``, ``'lights' is a level here, not a switch``."""


@dataclass(frozen=True, eq=False)
class Rule:
    """A loaded rule, compiled once and instantiated per covered room by the engine."""

    id: str
    pos: Position
    when: Expression
    until: Expression
    """`not when` unless the file says otherwise."""
    hold: float
    """Seconds `when` must hold before the rule activates (``for:``)."""
    until_for: float
    priority: int
    on_unknown: OnUnknown = OnUnknown.HOLD
    actions: tuple[SetAction, ...] = ()
    description: str = ""
    alarm: AlarmRule | None = None
    rooms: tuple[str, ...] = ()
    """Ids of the rooms it covers, in campus order."""
    skipped: tuple[SkippedRoom, ...] = ()
    """Rooms `rooms:` matched that lack something the rule names."""

    @property
    def level(self) -> str:
        return slot_name(self.priority)

    def expressions(self) -> tuple[Expression, ...]:
        """Every expression an instance evaluates (alarm message fields included)."""
        return self._expressions

    @functools.cached_property
    def _expressions(self) -> tuple[Expression, ...]:
        fields = [p.value for p in self.alarm.parts if p.value] if self.alarm else []
        return (self.when, self.until, *(a.value for a in self.actions), *fields)

    @functools.cached_property
    def timed(self) -> tuple[Expression, ...]:
        """The expressions whose value time alone can change (during, age, in_session)."""
        return tuple(e for e in self._expressions if e.uses_time)


@dataclass
class RuleSet:
    """The outcome of loading rules files: the rules that loaded, and every problem found."""

    rules: list[Rule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    tests: dict[str, list[TestSection]] = field(default_factory=dict)
    """The `tests:` of each file, for `campusctl rules test`."""
    sources: list[Path] = field(default_factory=list)
    """The paths as given (files and folders): what a reload reads again."""
    texts: dict[str, str] = field(default_factory=dict)
    """The text each file was loaded from, by path."""

    def failed_files(self) -> set[str]:
        """Files with at least one error."""
        return {p.pos.file for p in self.errors}

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


def priority_slot(value: str | int) -> int | str:
    """The slot of a `priority:` value, or an error message."""
    if isinstance(value, int):
        if 1 <= value <= 16:
            return value
        return f"priority {value} is out of range: use 1..16 or {', '.join(LEVELS)}"
    if value in LEVELS:
        return LEVELS[value]
    close = difflib.get_close_matches(value, list(LEVELS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown priority {value!r}{hint}: use {', '.join(LEVELS)} or 1..16"
