"""One decoded rule -> a compiled Rule, with the rooms it covers and the rooms it skips.

The order matters for good messages: `rooms:` is evaluated first, so names are checked against
the rooms the rule is about ("no room this rule covers has 'blinds'") rather than the whole
campus, and a type is taken from those rooms. A room that lacks a name the rule uses, or has it
with another type, is skipped with that reason (`campusctl rules check` lists them); only a rule
left with no room at all is an error.
"""

from __future__ import annotations

import dataclasses
import difflib
import string
from zoneinfo import ZoneInfo

from campus.model import ActuatorType, Building, Campus, Room, ValueType
from campus.problems import Position, Problem, Severity
from campus.text import counted
from rules.expr import Expression, ExpressionError, compile_expression
from rules.schema import (
    AlarmRule,
    ExprText,
    MessagePart,
    OnUnknown,
    Rule,
    RuleSection,
    SetAction,
    SetEntry,
    SkippedRoom,
    format_field,
    priority_slot,
)
from rules.scope import Scope, StaticEnv, Symbol, SymbolKind
from rules.values import UNKNOWN, Type, Val

DEFAULT_PRIORITY = 10
ATTRIBUTE_TYPES = {
    "id": Type.STRING,
    "name": Type.STRING,
    "kind": Type.STRING,
    "capacity": Type.NUMBER,
    "area": Type.NUMBER,
    "orientation": Type.STRING,
}
BUILDING_TYPES = {"id": Type.STRING, "name": Type.STRING}


class CampusContext:
    """What every rule of one load is checked against, computed once per campus (the loader
    and the engine share it: for 10,000 rooms it is a good part of the load time)."""

    _last: tuple[Campus, CampusContext] | None = None

    @classmethod
    def of(cls, campus: Campus) -> CampusContext:
        """The context of `campus`, reused while the same campus object is loaded again."""
        last = cls._last
        if last is not None and last[0] is campus:
            return last[1]
        context = cls(campus)
        cls._last = (campus, context)
        return context

    def __init__(self, campus: Campus) -> None:
        self.campus = campus
        self.tz = ZoneInfo(campus.site.timezone)
        self.rooms = campus.rooms
        self.symbols = {room.id: room_symbols(room) for room in self.rooms}
        """Each room's bare names with their kinds and types."""
        self.shared: dict[str, Symbol] = {}
        for room in self.rooms:
            for name, symbol in self.symbols[room.id].items():
                self.shared[f"{room.id}.{name}"] = symbol
        dotted = {f"room.{k}": Symbol(SymbolKind.ATTRIBUTE, t) for k, t in ATTRIBUTE_TYPES.items()}
        dotted |= {
            f"building.{k}": Symbol(SymbolKind.ATTRIBUTE, t) for k, t in BUILDING_TYPES.items()
        }
        self.attribute_symbols = dotted
        bare = {k: Symbol(SymbolKind.ATTRIBUTE, t) for k, t in ATTRIBUTE_TYPES.items()}
        names = {n for room in self.rooms for n in [*room.points, *room.actuators]}
        self.filter_scope = Scope(
            {**dotted, **bare},
            hints={n: f"rooms: may use room attributes only, and {n!r} is a point" for n in names},
        )
        buildings = {b.id: b for b in campus.buildings}
        self.attributes = {room.id: _attributes(room, buildings) for room in self.rooms}


def _attributes(room: Room, buildings: dict[str, Building]) -> dict[str, Val]:
    building = buildings[room.building]
    values: dict[str, Val] = {
        "id": room.id,
        "name": room.name,
        "kind": room.kind,
        "capacity": float(room.capacity),
        "area": float(room.area),
        "orientation": room.orientation,
    }
    dotted = {f"room.{k}": v for k, v in values.items()}
    return {**values, **dotted, "building.id": building.id, "building.name": building.name}


def room_symbols(room: Room) -> dict[str, Symbol]:
    """A room's bare point and actuator names with their types."""
    symbols = {
        name: Symbol(SymbolKind.POINT, Type.BOOL if spec.type is ValueType.BOOL else Type.NUMBER)
        for name, spec in room.points.items()
    }
    for name, act in room.actuators.items():
        kind = Type.BOOL if act.type is ActuatorType.SWITCH else Type.NUMBER
        symbols[name] = Symbol(SymbolKind.ACTUATOR, kind)
    return symbols


def build_rule(section: RuleSection, ctx: CampusContext, problems: list[Problem]) -> Rule | None:
    """Compile one rule; append its problems; None when it cannot run."""
    return _Builder(section, ctx, problems).build()


class _Builder:
    def __init__(self, section: RuleSection, ctx: CampusContext, problems: list[Problem]) -> None:
        self.s = section
        self.ctx = ctx
        self.problems = problems
        self.ok = True

    def error(self, pos: Position, message: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem(pos, message, severity))
        self.ok = self.ok and severity is not Severity.ERROR

    def compile(self, expr: ExprText, scope: Scope, expect: Type | None) -> Expression | None:
        try:
            return compile_expression(expr.text, scope, self.ctx.tz, expect)
        except ExpressionError as exc:
            self.error(expr.at(exc.col), exc.message)
            return None

    def build(self) -> Rule | None:
        s = self.s
        priority = self.priority()
        matched, filtered = self.match_rooms()
        scope = self.rule_scope(matched or self.ctx.rooms)
        when = self.compile(s.when, scope, Type.BOOL)
        until = self.compile(s.until, scope, Type.BOOL) if s.until else None
        actions = [self.action(entry, scope, matched) for entry in s.set]
        alarm = self.alarm(scope)
        if when is None or not self.ok:
            return None
        rule = Rule(
            id=s.id.value,
            pos=s.id.pos,
            when=when,
            until=until if until is not None else when.negated(),
            hold=float(s.hold),
            until_for=float(s.until_for),
            priority=priority,
            on_unknown=OnUnknown(s.on_unknown),
            actions=tuple(a for a in actions if a is not None),
            description=s.description,
            alarm=alarm,
        )
        covered, skipped = self.coverage(rule, matched, scope)
        if filtered and not covered:
            where = s.rooms.pos if s.rooms else s.id.pos
            reasons = "; ".join(f"{k.room}: {k.reason}" for k in skipped[:3])
            more = f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""
            self.error(where, f"rule {rule.id!r} covers no room: {reasons}{more}")
            return None
        if not rule.actions and rule.alarm is None:
            self.error(
                s.id.pos, f"rule {rule.id!r} sets nothing and raises no alarm", Severity.WARNING
            )
        return dataclasses.replace(rule, rooms=tuple(covered), skipped=tuple(skipped))

    def alarm(self, scope: Scope) -> AlarmRule | None:
        """Compile the message: each ``{field:spec}`` is an expression of the room, checked
        now (name, type, format spec) so a typo is a load-time error, not a broken alarm."""
        section = self.s.alarm
        if section is None:
            return None
        text, pos = section.message.value, section.message.pos
        try:
            pieces = list(string.Formatter().parse(text))
        except ValueError as exc:
            self.error(pos, f"alarm message: {exc}; write {{{{ and }}}} for literal braces")
            return None
        parts: list[MessagePart] = []
        for literal, field_name, spec, conversion in pieces:
            if field_name is None:
                parts.append(MessagePart(literal))
                continue
            where = f"alarm message field {{{field_name}}}"
            if conversion is not None or not field_name.strip() or "{" in (spec or ""):
                self.error(pos, f"{where}: write a name and an optional format, like {{co2:.0f}}")
                return None
            try:
                value = compile_expression(field_name, scope, self.ctx.tz, None)
            except ExpressionError as exc:
                self.error(pos, f"{where}: {exc.message}")
                return None
            samples: dict[Type, Val] = {Type.NUMBER: 1.0, Type.BOOL: True, Type.STRING: "x"}
            sample = samples[value.type]
            try:
                format_field(sample, spec or "")
            except (ValueError, TypeError):
                what = value.type.describe()
                self.error(pos, f"{where}: format {spec!r} does not fit {what}")
                return None
            parts.append(MessagePart(literal, value, spec or ""))
        return AlarmRule(section.severity, text, pos, tuple(parts))

    def priority(self) -> int:
        if self.s.priority is None:
            return DEFAULT_PRIORITY
        slot = priority_slot(self.s.priority.value)
        if isinstance(slot, str):
            self.error(self.s.priority.pos, slot)
            return DEFAULT_PRIORITY
        return slot

    def match_rooms(self) -> tuple[list[Room], bool]:
        """The rooms `rooms:` selects, and whether the filter could be evaluated."""
        if self.s.rooms is None:
            return list(self.ctx.rooms), True
        selector = self.compile(self.s.rooms, self.ctx.filter_scope, Type.BOOL)
        if selector is None:
            return [], False
        matched = [
            room
            for room in self.ctx.rooms
            if selector.evaluate(StaticEnv(attributes=self.ctx.attributes[room.id])) is True
        ]
        if not matched:
            count = len(self.ctx.rooms)
            self.error(
                self.s.rooms.pos,
                f"rule {self.s.id.value!r} covers no room: "
                f"rooms: matches none of the {counted(count, 'room')}",
            )
            return [], False
        return matched, True

    def rule_scope(self, rooms: list[Room]) -> Scope:
        """Bare names from `rooms` (a name's type from the first room that has it)."""
        symbols: dict[str, Symbol] = {}
        for room in rooms:
            for name, symbol in self.ctx.symbols[room.id].items():
                symbols.setdefault(name, symbol)
        symbols |= self.ctx.attribute_symbols
        hints = {
            name: f"no room this rule covers has {name!r}"
            for room in self.ctx.rooms
            for name in [*room.points, *room.actuators]
            if name not in symbols
        }
        for attribute in ATTRIBUTE_TYPES:
            hints.setdefault(attribute, f"write room.{attribute} for the room's {attribute}")
        return Scope(symbols, self.ctx.shared, hints, self.ctx.campus.timetable)

    def action(self, entry: SetEntry, scope: Scope, rooms: list[Room]) -> SetAction | None:
        name, pos = entry.actuator.value, entry.actuator.pos
        symbol = scope.symbols.get(name)
        if symbol is None and name in scope.hints:
            self.error(pos, f"set: {scope.hints[name]}")
            return None
        if symbol is None or symbol.kind is SymbolKind.ATTRIBUTE:
            actuators = sorted({a for r in rooms or self.ctx.rooms for a in r.actuators})
            close = difflib.get_close_matches(name, actuators, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(actuators) or "none"
            self.error(pos, f"set: unknown actuator {name!r}{hint}; actuators here: {known}")
            return None
        if symbol.kind is SymbolKind.POINT:
            self.error(pos, f"set: {name!r} is a sensor (a point), not an actuator")
            return None
        value = self.compile(entry.value, scope, None)
        if value is None:
            return None
        if value.type is not symbol.type:
            what = (
                "a switch: set it to on or off"
                if symbol.type is Type.BOOL
                else "a level: set it to a number"
            )
            self.error(
                entry.value.at(0),
                f"{name} is {what}, but {value.text!r} is {value.type.describe()}",
            )
            return None
        if value.is_constant:
            self.check_range(name, value.evaluate(StaticEnv()), entry.value, rooms)
        return SetAction(name, value, pos)

    def check_range(self, name: str, value: Val, where: ExprText, rooms: list[Room]) -> None:
        if value is UNKNOWN or isinstance(value, str | bool):
            return
        for room in rooms:
            spec = room.actuators.get(name)
            if spec is not None and not spec.accepts(value):
                low, high = spec.range
                self.error(
                    where.at(0),
                    f"{name}: {value:g} is outside the range {low:g}..{high:g} of {spec.id}",
                )
                return

    def coverage(
        self, rule: Rule, rooms: list[Room], scope: Scope
    ) -> tuple[list[str], list[SkippedRoom]]:
        used = sorted(
            {n for e in rule.expressions() for n in e.names if "." not in n}
            | {a.actuator for a in rule.actions}
        )
        covered: list[str] = []
        skipped: list[SkippedRoom] = []
        for room in rooms:
            have = self.ctx.symbols[room.id]
            missing = next((n for n in used if have.get(n) != scope.symbols[n]), None)
            if missing is None:
                covered.append(room.id)
            elif missing not in have:
                skipped.append(
                    SkippedRoom(room.id, f"no {scope.symbols[missing].kind.value} {missing!r}")
                )
            else:
                mine, theirs = have[missing], scope.symbols[missing]
                reason = f"{missing!r} is {_what(mine)} here, the rule needs {_what(theirs)}"
                skipped.append(SkippedRoom(room.id, reason))
        return covered, skipped


def _what(symbol: Symbol) -> str:
    article = "an" if symbol.kind is SymbolKind.ACTUATOR else "a"
    return f"{article} {symbol.kind.value} ({symbol.type.value})"
