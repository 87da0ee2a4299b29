"""The functions a rule may call: during, age, stale, min, max, abs, round, clamp.

Each is checked (argument count and types) and turned into a closure at compile time. The
time-dependent ones also leave a Probe behind, so the engine can wake an instance exactly when
time alone changes its answer: at a during() window boundary, or when an age() threshold is
crossed, instead of polling every instance every second.
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from rules.compiled import NO_ENV, ExpressionError, Fn, Node, Probe
from rules.scope import Env, SymbolKind
from rules.timewindow import WindowError, parse_windows, timetable_windows
from rules.values import UNKNOWN, Type, Val

if TYPE_CHECKING:
    from rules.expr import _Compiler

FUNCTIONS = (
    "during",
    "in_period",
    "age",
    "stale",
    "min",
    "max",
    "abs",
    "round",
    "clamp",
)
AGE_RECHECK = 1.0
"""Seconds between re-evaluations when age() is used in a way whose crossing time cannot be
computed (``age(co2) / 60 > 10``); `age(x) > N` itself is exact."""
MAX_ROUND_DIGITS = 6


class CallBuilder:
    """Compiles calls for one expression's compiler."""

    def __init__(self, compiler: _Compiler) -> None:
        self.c = compiler

    def build(self, name: str, node: ast.Call, depth: int) -> Node:
        builders: dict[str, Callable[[ast.Call, int], Node]] = {
            "during": self._during,
            "in_period": self._in_period,
            "age": self._age,
            "stale": self._stale,
            "min": self._minmax,
            "max": self._minmax,
            "abs": self._abs,
            "round": self._round,
            "clamp": self._clamp,
        }
        return builders[name](node, depth)

    def arity(self, node: ast.Call, low: int, high: int, usage: str) -> None:
        if not low <= len(node.args) <= high:
            raise self.c.fail(f"{usage}: got {len(node.args)} argument(s)", node)

    def numbers(self, node: ast.Call, depth: int, name: str) -> list[Node]:
        return [self.c.expect(arg, depth, Type.NUMBER, f"{name}()") for arg in node.args]

    def _during(self, node: ast.Call, depth: int) -> Node:
        self.arity(node, 1, 1, 'during("Mon-Fri 07:00-18:00") takes one text')
        arg = node.args[0]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            raise self.c.fail('during() takes a quoted text such as "Mon-Fri 07:00-18:00"', arg)
        try:
            windows = parse_windows(arg.value, self.c.tz)
        except WindowError as exc:
            raise ExpressionError(str(exc), self.c.col(arg) + 1 + exc.offset) from None
        self.c.uses_time = True
        self.c.probes[id(node)] = lambda env: windows.next_boundary(env.now)
        return Node(lambda env: windows.contains(env.now), Type.BOOL, False, self.c.source(node))

    def session(self, node: ast.AST, names: set[str] | None) -> Node:
        """`in_session` (names None) or `in_period("lesson-1", ...)`: the campus timetable."""
        timetable = self.c.scope.timetable
        if timetable is None:
            raise self.c.fail(
                "the timetable cannot be used here (rooms: is fixed, not timed)", node
            )
        if not timetable:
            raise self.c.fail(
                f"{self.c.source(node)} needs a timetable: in campus.yaml (none is defined)", node
            )
        if names is not None:
            known = {p.name for periods in timetable.values() for p in periods}
            unknown = sorted(names - known)
            if unknown:
                close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.c.fail(
                    f"no period {unknown[0]!r} in the timetable{hint}; periods: "
                    + ", ".join(sorted(known)),
                    node,
                )
        windows = timetable_windows(timetable, self.c.tz, names)
        self.c.uses_time = True
        self.c.probes[id(node)] = lambda env: windows.next_boundary(env.now)
        return Node(lambda env: windows.contains(env.now), Type.BOOL, False, self.c.source(node))

    def _in_period(self, node: ast.Call, depth: int) -> Node:
        if not node.args or not all(
            isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args
        ):
            raise self.c.fail('in_period() takes period names in quotes: in_period("lunch")', node)
        return self.session(node, {str(a.value) for a in node.args if isinstance(a, ast.Constant)})

    def point_argument(self, node: ast.Call, name: str) -> str:
        self.arity(node, 1, 1, f"{name}(point) takes one point name")
        arg = node.args[0]
        key = arg.id if isinstance(arg, ast.Name) else self.c.dotted(arg)
        symbol = self.c.scope.lookup(key)
        if symbol is None:
            raise self.c.fail(self.c.scope.explain_unknown(key), arg)
        if symbol.kind is not SymbolKind.POINT:
            raise self.c.fail(f"{name}() takes a sensor point; {key!r} is not one", arg)
        self.c.points.add(key)
        self.c.uses_time = True
        return key

    def _age(self, node: ast.Call, depth: int) -> Node:
        key = self.point_argument(node, "age")
        self.c.aged.add(key)

        def fn(env: Env) -> Val:
            seen = env.last_seen(key)
            return UNKNOWN if seen is None else max(0.0, env.now - seen)

        self.c.probes[id(node)] = lambda env: env.now + AGE_RECHECK
        return Node(fn, Type.NUMBER, False, self.c.source(node))

    def _stale(self, node: ast.Call, depth: int) -> Node:
        """True when the point has no usable value (never reported, stale, offline)."""
        key = self.point_argument(node, "stale")
        return Node(lambda env: env.value(key) is UNKNOWN, Type.BOOL, False, self.c.source(node))

    def _minmax(self, node: ast.Call, depth: int) -> Node:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        if len(node.args) < 2:
            raise self.c.fail(f"{name}() needs at least two numbers", node)
        args = self.numbers(node, depth, name)
        pick = min if name == "min" else max
        fns = tuple(a.fn for a in args)

        def fn(env: Env) -> Val:
            values = [f(env) for f in fns]
            if UNKNOWN in values:
                return UNKNOWN
            return pick(values)  # type: ignore[type-var]

        return self.c.fold(Node(fn, Type.NUMBER, all(a.const for a in args), self.c.source(node)))

    def _abs(self, node: ast.Call, depth: int) -> Node:
        self.arity(node, 1, 1, "abs(x) takes one number")
        (arg,) = self.numbers(node, depth, "abs")
        f = arg.fn
        fn: Fn = lambda env: _unary(f(env), abs)  # noqa: E731
        return self.c.fold(Node(fn, Type.NUMBER, arg.const, self.c.source(node)))

    def _round(self, node: ast.Call, depth: int) -> Node:
        """Half away from zero (2.5 -> 3), as people round; not Python's banker's rounding."""
        self.arity(node, 1, 2, "round(x) or round(x, digits)")
        value = self.c.expect(node.args[0], depth, Type.NUMBER, "round()")
        digits = 0
        if len(node.args) == 2:
            given = node.args[1]
            if not (isinstance(given, ast.Constant) and type(given.value) is int):
                raise self.c.fail("round()'s digits must be a whole number like 1", given)
            digits = given.value
            if not 0 <= digits <= MAX_ROUND_DIGITS:
                raise self.c.fail(f"round()'s digits must be 0..{MAX_ROUND_DIGITS}", given)
        scale = 10.0**digits
        f = value.fn

        def half_away(x: float) -> Val:
            scaled = abs(x) * scale + 0.5
            if not math.isfinite(scaled):
                return UNKNOWN  # too large to round to these digits
            return math.copysign(math.floor(scaled) / scale, x)

        fn: Fn = lambda env: _unary(f(env), half_away)  # noqa: E731
        return self.c.fold(Node(fn, Type.NUMBER, value.const, self.c.source(node)))

    def _clamp(self, node: ast.Call, depth: int) -> Node:
        self.arity(node, 3, 3, "clamp(x, low, high) takes three numbers")
        x, low, high = self.numbers(node, depth, "clamp")
        if low.const and high.const:
            lo, hi = low.fn(NO_ENV), high.fn(NO_ENV)
            if lo is not UNKNOWN and hi is not UNKNOWN and lo > hi:  # type: ignore[operator]
                raise self.c.fail(f"clamp(): low {low.source} is above high {high.source}", node)
        xf, lf, hf = x.fn, low.fn, high.fn

        def fn(env: Env) -> Val:
            v, lo, hi = xf(env), lf(env), hf(env)
            if v is UNKNOWN or lo is UNKNOWN or hi is UNKNOWN:
                return UNKNOWN
            return max(lo, min(hi, v))

        const = x.const and low.const and high.const
        return self.c.fold(Node(fn, Type.NUMBER, const, self.c.source(node)))

    def refine_age_probe(self, operands: list[ast.expr], compiled: list[Node]) -> None:
        """For `age(x) OP limit` (either side), wake exactly when the limit is crossed.

        Valid when the limit does not itself depend on time: it then only changes with an input,
        and every input change re-evaluates the instance anyway.
        """
        for side, other in ((0, 1), (1, 0)):
            call = operands[side]
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
                continue
            if call.func.id != "age" or id(call) not in self.c.probes:
                continue
            if _uses_time(operands[other]):
                return
            key = call.args[0].id if isinstance(call.args[0], ast.Name) else None
            key = key or self.c.dotted(call.args[0])
            self.c.probes[id(call)] = _age_crossing(key, compiled[other].fn)
            return


def _uses_time(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("age", "during")
        for n in ast.walk(node)
    )


def _age_crossing(key: str, limit: Fn) -> Probe:
    def probe(env: Env) -> float | None:
        seen = env.last_seen(key)
        bound = limit(env)
        if seen is None or bound is UNKNOWN or isinstance(bound, bool | str):
            return None
        crossing = seen + bound
        if crossing > env.now:
            return crossing
        if env.now < crossing + 1e-6:
            return env.now + 1e-6
        return None

    return probe


def _unary(value: Val, op: Callable[[float], Val]) -> Val:
    if value is UNKNOWN or isinstance(value, bool | str):
        return UNKNOWN if value is UNKNOWN else value
    return op(value)
