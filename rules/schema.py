"""What a rules file may say (the *Section dataclasses, decoded by campus.yamlmodel) and what a
loaded rule is (`Rule`, `RuleSet`).

Expressions are kept as `ExprText`: the scalar's own text (``on`` stays ``on``, not YAML's
True) plus where it sits in the file, so an error inside an expression points at its column.
The alarm and tests sections are accepted and kept for the issue that runs them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from campus.problems import Position, Problem, Severity
from campus.yamlmodel import Duration, Located
from rules.arbiter import LEVELS, slot_name
from rules.expr import Expression

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


@dataclass(frozen=True, slots=True)
class SetEntry:
    """One ``actuator: value`` line of `set:`."""

    actuator: Located[str]
    value: ExprText


class SetSection(tuple[SetEntry, ...]):
    """`set:` decoded in order, each key with its own position (marker type for the decoder)."""


@dataclass(frozen=True)
class AlarmSection:
    """An alarm raised while the rule is active (raised and cleared by a later issue's code)."""

    message: Located[str]
    severity: Literal["info", "warning", "critical"] = "warning"
    pos: Position | None = None


@dataclass(frozen=True)
class RuleSection:
    """One rule as written."""

    id: Located[str]
    when: ExprText
    description: str = ""
    rooms: ExprText | None = None
    hold: Duration = field(default=Duration(0), metadata={"key": "for"})
    until: ExprText | None = None
    until_for: Duration = field(default=Duration(0))
    set: SetSection = field(default_factory=SetSection)
    priority: Located[str | int] | None = None
    on_unknown: Literal["hold", "release"] = "hold"
    alarm: AlarmSection | None = None
    pos: Position | None = None


@dataclass(frozen=True)
class RulesFile:
    """A rules file: its rules, and tests for them (run by `campusctl rules test`)."""

    rules: list[RuleSection] = field(default_factory=list)
    tests: list[Any] = field(default_factory=list)


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


@dataclass(frozen=True, slots=True)
class Alarm:
    severity: str
    message: str
    pos: Position


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
    alarm: Alarm | None = None
    rooms: tuple[str, ...] = ()
    """Ids of the rooms it covers, in campus order."""
    skipped: tuple[SkippedRoom, ...] = ()
    """Rooms `rooms:` matched that lack something the rule names."""

    @property
    def level(self) -> str:
        return slot_name(self.priority)

    def expressions(self) -> list[Expression]:
        return [self.when, self.until, *(a.value for a in self.actions)]


@dataclass
class RuleSet:
    """The outcome of loading rules files: the rules that loaded, and every problem found."""

    rules: list[Rule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    tests: dict[str, list[Any]] = field(default_factory=dict)
    """The raw `tests:` of each file, for `campusctl rules test` (not run yet)."""

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
