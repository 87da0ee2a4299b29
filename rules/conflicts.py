"""Load-time warnings about rules that fight: two rules over one actuator, and a rule over
itself.

Conflict: two rules write the same actuator at the same priority in a room both cover, and
their `when` conditions can be true at the same time. The arbiter would still pick a winner
(the higher value), but the author almost certainly meant one of them to take precedence.
"Can be true at once" is decided on the conditions' text: each `when` is expanded into
alternatives (`or`) of conjunctions (`and`) of atoms, and two conjunctions exclude each other
when one atom contradicts another: `occupancy` vs `not occupancy`, `co2 > 1000` vs
`co2 < 800`, `during("Mon-Fri 07:00-18:00")` vs `not during(...)` over the same minutes of the
week. Anything the check cannot reason about is assumed satisfiable, so it warns rather than
stays silent. Two rules that write the same constant do not fight and are not reported.

Loop: a rule whose condition (or `set:` formula) reads an actuator it writes itself. The
engine cuts such cascades off, but the rule is almost always a mistake.
"""

from __future__ import annotations

import ast
import itertools
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from campus.model import Campus
from campus.problems import Problem, Severity
from rules.schema import Rule, SetAction
from rules.timewindow import TimeWindows, WindowError, parse_windows, timetable_windows

MAX_TERMS = 64
"""Conjunctions per condition beyond which the check gives up (and assumes overlap)."""
WEEK = 7 * 1440
ALL_WEEK = (1 << WEEK) - 1


@dataclass(frozen=True, slots=True)
class Flag:
    """A bool point or attribute is `value`."""

    name: str
    value: bool


@dataclass(frozen=True, slots=True)
class Range:
    """A number lies between low and high (each bound open or closed)."""

    name: str
    low: float
    low_open: bool
    high: float
    high_open: bool


@dataclass(frozen=True, slots=True)
class Minutes:
    """The local time is in these minutes of the week (a bit mask)."""

    mask: int


@dataclass(frozen=True, slots=True)
class Constant:
    value: bool


@dataclass(frozen=True, slots=True)
class Opaque:
    """Something the check does not reason about: it can be true or false."""

    text: str


Atom = Flag | Range | Minutes | Constant | Opaque


def check(rules: list[Rule], campus: Campus) -> list[Problem]:
    """Conflict and loop warnings for rules that loaded."""
    tz = ZoneInfo(campus.site.timezone)
    problems = [p for rule in rules for p in _loops(rule)]
    writers: dict[tuple[int, str], list[tuple[Rule, SetAction]]] = {}
    for rule in rules:
        for action in rule.actions:
            writers.setdefault((rule.priority, action.actuator), []).append((rule, action))
    terms: dict[str, list[list[Atom]] | None] = {}
    for group in writers.values():
        for (a, act_a), (b, act_b) in itertools.combinations(group, 2):
            if _same_constant(act_a, act_b):
                continue
            shared = sorted(set(a.rooms) & set(b.rooms))
            if not shared:
                continue
            for rule in (a, b):
                if rule.id not in terms:
                    terms[rule.id] = _dnf(rule.when.text, campus, tz)
            if not _can_overlap(terms[a.id], terms[b.id]):
                continue
            problems.append(
                Problem(
                    act_b.pos,
                    f"conflict: rules {a.id!r} ({act_a.pos}) and {b.id!r} ({act_b.pos}) both "
                    f"write {act_a.actuator!r} at {a.level} (slot {a.priority}) and their "
                    f"conditions can hold at once (e.g. in {shared[0]}); give one another "
                    "priority or make the conditions exclude each other",
                    Severity.WARNING,
                )
            )
    return problems


def _loops(rule: Rule) -> list[Problem]:
    found: list[Problem] = []
    condition = rule.when.actuators | rule.until.actuators
    for action in rule.actions:
        if action.actuator in condition:
            where = "its own condition reads"
        elif action.actuator in action.value.actuators:
            where = "its own set: value reads"
        else:
            continue
        found.append(
            Problem(
                action.pos,
                f"loop: rule {rule.id!r} writes {action.actuator!r}, which {where}; "
                "its activity would switch itself; read a sensor instead",
                Severity.WARNING,
            )
        )
    return found


def _same_constant(a: SetAction, b: SetAction) -> bool:
    return a.value.is_constant and b.value.is_constant and a.value.text == b.value.text


# -- satisfiability of `when` conditions ------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    campus: Campus
    tz: ZoneInfo


def _dnf(text: str, campus: Campus, tz: ZoneInfo) -> list[list[Atom]] | None:
    """Alternatives of conjunctions; None when the expansion is too large to reason about."""
    try:
        tree = ast.parse(text.strip().replace("\n", " "), mode="eval").body
    except SyntaxError:
        return None
    return _expand(tree, True, _Context(campus, tz))


def _expand(node: ast.expr, positive: bool, ctx: _Context) -> list[list[Atom]] | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _expand(node.operand, not positive, ctx)
    if isinstance(node, ast.BoolOp):
        is_and = isinstance(node.op, ast.And) == positive
        parts = [_expand(v, positive, ctx) for v in node.values]
        if any(p is None for p in parts):
            return None
        if not is_and:
            merged = [term for p in parts if p is not None for term in p]
            return merged if len(merged) <= MAX_TERMS else None
        result: list[list[Atom]] = [[]]
        for part in parts:
            assert part is not None
            result = [left + right for left in result for right in part]
            if len(result) > MAX_TERMS:
                return None
        return result
    return [[_atom(node, positive, ctx)]]


def _atom(node: ast.expr, positive: bool, ctx: _Context) -> Atom:
    if isinstance(node, ast.Name):
        words = {"true": True, "on": True, "false": False, "off": False}
        if node.id in words:
            return Constant(words[node.id] == positive)
        if node.id == "in_session":
            return _time(timetable_windows(ctx.campus.timetable, ctx.tz), positive)
        return Flag(node.id, positive)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        windows = _call_windows(node, ctx)
        if windows is not None:
            return _time(windows, positive)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        bound = _bound(node, positive)
        if bound is not None:
            return bound
    return Opaque(ast.dump(node))


def _call_windows(node: ast.Call, ctx: _Context) -> TimeWindows | None:
    assert isinstance(node.func, ast.Name)
    texts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if len(texts) != len(node.args) or not texts:
        return None
    if node.func.id == "during" and len(texts) == 1:
        try:
            return parse_windows(texts[0], ctx.tz)
        except WindowError:
            return None
    if node.func.id == "in_period":
        return timetable_windows(ctx.campus.timetable, ctx.tz, set(texts))
    return None


def _time(windows: TimeWindows, positive: bool) -> Atom:
    """The minutes of the week the windows cover, as a bit mask (local wall time; DST does
    not matter for whether two weekly schedules overlap)."""
    covered = 0
    for window in windows.windows:
        length = (window.end - window.start) % 1440 or 1440
        for day in window.days:
            start = day * 1440 + window.start
            span = (1 << length) - 1
            covered |= (span << start) & ALL_WEEK
            if start + length > WEEK:
                covered |= span >> (WEEK - start)
    return Minutes(covered if positive else ALL_WEEK & ~covered)


def _bound(node: ast.Compare, positive: bool) -> Atom | None:
    """`name OP number` (either side) as an interval of the name's values."""
    left, op, right = node.left, node.ops[0], node.comparators[0]
    flip = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}
    number = _number(right)
    name = _name(left)
    if number is None or name is None:
        number, name = _number(left), _name(right)
        if number is None or name is None or type(op) not in flip:
            return None
        op = flip[type(op)]()
    if not positive:
        negate = {ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt}
        if type(op) not in negate:
            return None
        op = negate[type(op)]()
    inf = math.inf
    intervals = {
        ast.Lt: (-inf, True, number, True),
        ast.LtE: (-inf, True, number, False),
        ast.Gt: (number, True, inf, True),
        ast.GtE: (number, False, inf, True),
        ast.Eq: (number, False, number, False),
    }
    interval = intervals.get(type(op))
    return None if interval is None else Range(name, *interval)


def _number(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return None if isinstance(node.value, bool) else float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    return None


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _name(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def _can_overlap(a: list[list[Atom]] | None, b: list[list[Atom]] | None) -> bool:
    if a is None or b is None:
        return True
    return any(_satisfiable(x + y) for x in a for y in b)


def _satisfiable(atoms: list[Atom]) -> bool:
    flags: dict[str, bool] = {}
    ranges: dict[str, Range] = {}
    time = ALL_WEEK
    for atom in atoms:
        if isinstance(atom, Constant):
            if not atom.value:
                return False
        elif isinstance(atom, Flag):
            if flags.setdefault(atom.name, atom.value) != atom.value:
                return False
        elif isinstance(atom, Range):
            merged = _intersect(ranges.get(atom.name), atom)
            if merged is None:
                return False
            ranges[atom.name] = merged
        elif isinstance(atom, Minutes):
            time &= atom.mask
            if not time:
                return False
    return True


def _intersect(a: Range | None, b: Range) -> Range | None:
    if a is None:
        return b
    low, low_open = max((a.low, a.low_open), (b.low, b.low_open))
    high, high_open = min((a.high, not a.high_open), (b.high, not b.high_open))
    high_open = not high_open
    if low > high or (low == high and (low_open or high_open)):
        return None
    return Range(a.name, low, low_open, high, high_open)
