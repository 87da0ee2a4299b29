"""The rule expression compiler: text -> typed closures, once, at load time.

Rule text is parsed by Python's own parser (`ast`, mode "eval") and then walked with a
whitelist: a dispatch table from the few allowed node types to builders that return closures.
Any other node (attribute chains on objects, subscripts, `**`, lambdas, comprehensions,
f-strings, calls outside the function list) is refused with its column, so nothing in a rules
file can reach Python objects, and nothing is ever handed to eval/exec/compile. The walk also
type-checks (bool, number, text), resolves every name against the rule's Scope and records
which points and actuators the expression reads: the engine indexes instances by those, so a
reading re-evaluates only the instances that use it.

`true/false/on/off` are boolean literals. They are recognised as names during the walk rather
than rewritten in the text, which keeps every column offset exact for error messages.
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from rules.compiled import NO_ENV, ExpressionError, Fn, Node, Probe, const_node
from rules.functions import FUNCTIONS, CallBuilder
from rules.scope import Env, Scope, SymbolKind
from rules.values import UNKNOWN, Type, Val, kleene_not

MAX_LENGTH = 1000
MAX_DEPTH = 32
BOOL_WORDS = {"true": True, "false": False, "on": True, "off": False}
SESSION = "in_session"
"""True during any period of the campus timetable (site time zone)."""

__all__ = ["Expression", "ExpressionError", "compile_expression"]


@dataclass(frozen=True, slots=True, eq=False)
class Expression:
    """A compiled expression. Evaluate it as often as needed; it never re-parses."""

    text: str
    type: Type
    points: frozenset[str]
    """Point keys it reads, as written (bare ``co2`` or a full id ``b1.outdoor.temperature``)."""
    actuators: frozenset[str]
    attributes: frozenset[str]
    aged: frozenset[str]
    """Points whose age() it reads: it must re-evaluate on every reading of them, not only on
    a change of value."""
    uses_time: bool
    is_constant: bool
    evaluate: Fn
    """The compiled closure: ``expression.evaluate(env)`` is the value (one call, no wrapper:
    this is the engine's hot path)."""
    _probes: tuple[Probe, ...]
    tree: Node | None = None
    """The compiled tree, kept for `explain` (which sub-condition is false or unknown)."""

    @property
    def names(self) -> frozenset[str]:
        """Points and actuators it reads."""
        return self.points | self.actuators

    def next_change(self, env: Env) -> float | None:
        """The earliest time after `env.now` when time alone may change the value (or None)."""
        best: float | None = None
        for probe in self._probes:
            t = probe(env)
            if t is not None and (best is None or t < best):
                best = t
        return best

    def negated(self) -> Expression:
        """`not (self)`: the default `until` of a rule."""
        fn = self.evaluate
        return Expression(
            text=f"not ({self.text})",
            type=Type.BOOL,
            points=self.points,
            actuators=self.actuators,
            attributes=self.attributes,
            aged=self.aged,
            uses_time=self.uses_time,
            is_constant=self.is_constant,
            evaluate=lambda env: kleene_not(fn(env)),
            _probes=self._probes,
            tree=None
            if self.tree is None
            else Node(
                lambda env: kleene_not(fn(env)), Type.BOOL, False, self.text, "not", (self.tree,)
            ),
        )


def compile_expression(
    text: str, scope: Scope, tz: ZoneInfo | None = None, expect: Type | None = None
) -> Expression:
    """Compile `text` against `scope`; raise ExpressionError (with a column) when it is refused.

    `tz` is the site's time zone for during(); `expect` checks the result type.
    """
    return _Compiler(text, scope, tz or ZoneInfo("UTC")).run(expect)


class _Compiler:
    def __init__(self, text: str, scope: Scope, tz: ZoneInfo) -> None:
        self.text = text
        stripped = text.lstrip()
        self.lead = len(text) - len(stripped)
        self.parsed = stripped.replace("\n", " ")
        """What ast sees: leading blanks dropped (offsets keep `lead`), line breaks as spaces
        (folded YAML scalars), so every column maps back one to one."""
        self.scope = scope
        self.tz = tz
        self.points: set[str] = set()
        self.actuators: set[str] = set()
        self.attributes: set[str] = set()
        self.aged: set[str] = set()
        self.uses_time = False
        self.probes: dict[int, Probe] = {}
        self.calls = CallBuilder(self)
        self.table: dict[type[ast.AST], Callable[[ast.AST, int], Node]] = {
            ast.Constant: self._constant,
            ast.Name: self._name,
            ast.Attribute: self._attribute,
            ast.BoolOp: self._boolop,
            ast.UnaryOp: self._unary,
            ast.BinOp: self._binop,
            ast.Compare: self._compare,
            ast.Call: self._call,
        }

    def run(self, expect: Type | None) -> Expression:
        if len(self.text) > MAX_LENGTH:
            raise ExpressionError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH)
        if not self.parsed.strip():
            raise ExpressionError("empty expression", 0)
        try:
            tree = ast.parse(self.parsed, mode="eval")
        except SyntaxError as exc:
            message = (exc.msg or "invalid syntax").split(". Perhaps")[0]
            col = self.lead + (exc.offset - 1 if exc.offset else len(self.parsed))
            raise ExpressionError(f"does not parse: {message}", col) from None
        except (RecursionError, MemoryError, ValueError) as exc:
            raise ExpressionError(f"does not parse: {type(exc).__name__}", 0) from None
        node = self.visit(tree.body, 0)
        if expect is not None and node.type is not expect:
            raise ExpressionError(
                f"expected {expect.describe()}, but {node.source!r} is {node.type.describe()}",
                self.col(tree.body),
            )
        return Expression(
            text=self.text,
            type=node.type,
            points=frozenset(self.points),
            actuators=frozenset(self.actuators),
            attributes=frozenset(self.attributes),
            aged=frozenset(self.aged),
            uses_time=self.uses_time,
            is_constant=node.const,
            evaluate=node.fn,
            _probes=tuple(self.probes.values()),
            tree=node,
        )

    def col(self, node: ast.AST) -> int:
        """The character offset of `node` in the original text (ast counts UTF-8 bytes)."""
        raw = self.parsed.encode()[: getattr(node, "col_offset", 0)]
        return self.lead + len(raw.decode(errors="ignore"))

    def fail(self, message: str, node: ast.AST) -> ExpressionError:
        return ExpressionError(message, self.col(node))

    def source(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.parsed, node) or type(node).__name__

    def visit(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(f"expression nested deeper than {MAX_DEPTH} levels", node)
        builder = self.table.get(type(node))
        if builder is None:
            raise self.fail(_refusal(node), node)
        return builder(node, depth + 1)

    def expect(self, node: ast.AST, depth: int, wanted: Type, role: str) -> Node:
        compiled = self.visit(node, depth)
        if compiled.type is not wanted:
            raise self.fail(
                f"type mismatch: {role} needs {wanted.describe()}, "
                f"but {compiled.source!r} is {compiled.type.describe()}",
                node,
            )
        return compiled

    def fold(self, node: Node) -> Node:
        """Evaluate a constant subtree now, so evaluation later is a single closure call."""
        if not node.const:
            return node
        value = node.fn(NO_ENV)
        return Node(lambda env: value, node.type, True, node.source)

    def _constant(self, node: ast.AST, depth: int) -> Node:
        assert isinstance(node, ast.Constant)
        value = node.value
        src = self.source(node)
        if isinstance(value, bool):
            return const_node(value, Type.BOOL, src)
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:
                raise self.fail("number too large", node) from None
            if not math.isfinite(number):
                raise self.fail("number too large", node)
            return const_node(number, Type.NUMBER, src)
        if isinstance(value, str):
            return const_node(value, Type.STRING, src)
        raise self.fail(f"{src!r} is not a value a rule can use", node)

    def _name(self, node: ast.AST, depth: int) -> Node:
        assert isinstance(node, ast.Name)
        if node.id in BOOL_WORDS:
            return const_node(BOOL_WORDS[node.id], Type.BOOL, node.id)
        if node.id == SESSION and self.scope.lookup(SESSION) is None:
            return self.calls.session(node, None)
        return self.reference(node.id, node)

    def _attribute(self, node: ast.AST, depth: int) -> Node:
        return self.reference(self.dotted(node), node)

    def dotted(self, node: ast.AST) -> str:
        """``b1.outdoor.temperature`` or ``room.kind``; anything else is refused."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            raise self.fail(
                "attribute access is only for room.X, building.X and full point ids "
                "(b1.outdoor.temperature)",
                node,
            )
        parts.append(node.id)
        name = ".".join(reversed(parts))
        if any(part.startswith("_") for part in parts):
            raise self.fail(f"names starting with '_' are not allowed: {name!r}", node)
        return name

    def reference(self, name: str, node: ast.AST) -> Node:
        symbol = self.scope.lookup(name)
        if symbol is None:
            raise self.fail(self.scope.explain_unknown(name), node)
        if symbol.kind is SymbolKind.ATTRIBUTE:
            self.attributes.add(name)
            return Node(lambda env: env.attribute(name), symbol.type, False, name)
        (self.points if symbol.kind is SymbolKind.POINT else self.actuators).add(name)
        return Node(lambda env: env.value(name), symbol.type, False, name)

    def _boolop(self, node: ast.AST, depth: int) -> Node:
        assert isinstance(node, ast.BoolOp)
        word = "and" if isinstance(node.op, ast.And) else "or"
        parts = [self.expect(v, depth, Type.BOOL, f"'{word}'") for v in node.values]
        fns = tuple(p.fn for p in parts)
        fn = _kleene(fns, decisive=word == "or")
        const = all(p.const for p in parts)
        return self.fold(Node(fn, Type.BOOL, const, self.source(node), word, tuple(parts)))

    def _unary(self, node: ast.AST, depth: int) -> Node:
        assert isinstance(node, ast.UnaryOp)
        src = self.source(node)
        if isinstance(node.op, ast.Not):
            inner = self.expect(node.operand, depth, Type.BOOL, "'not'")
            f = inner.fn
            negated = Node(
                lambda env: kleene_not(f(env)), Type.BOOL, inner.const, src, "not", (inner,)
            )
            return self.fold(negated)
        if isinstance(node.op, ast.USub | ast.UAdd):
            inner = self.expect(node.operand, depth, Type.NUMBER, "a sign")
            g = inner.fn
            if isinstance(node.op, ast.UAdd):
                return inner
            return self.fold(Node(lambda env: _neg(g(env)), Type.NUMBER, inner.const, src))
        raise self.fail("operator ~ is not allowed", node)

    def _binop(self, node: ast.AST, depth: int) -> Node:
        assert isinstance(node, ast.BinOp)
        op = _ARITHMETIC.get(type(node.op))
        if op is None:
            symbol = _OPERATOR_NAMES.get(type(node.op), type(node.op).__name__)
            raise self.fail(f"operator {symbol} is not allowed; use + - * /", node)
        left = self.expect(node.left, depth, Type.NUMBER, "arithmetic")
        right = self.expect(node.right, depth, Type.NUMBER, "arithmetic")
        lf, rf = left.fn, right.fn

        def fn(env: Env) -> Val:
            a = lf(env)
            if a is UNKNOWN:
                return UNKNOWN
            b = rf(env)
            if b is UNKNOWN:
                return UNKNOWN
            result = op(a, b)  # type: ignore[arg-type]
            return result if result is UNKNOWN or math.isfinite(result) else UNKNOWN  # type: ignore[arg-type]

        const = left.const and right.const
        return self.fold(Node(fn, Type.NUMBER, const, self.source(node)))

    def _compare(self, node: ast.AST, depth: int) -> Node:
        assert isinstance(node, ast.Compare)
        operands = [node.left, *node.comparators]
        compiled: list[Node] = [self.visit(node.left, depth)]
        pairs: list[Fn] = []
        for i, op in enumerate(node.ops):
            left = compiled[i]
            if isinstance(op, ast.In | ast.NotIn):
                if i != len(node.ops) - 1:
                    raise self.fail("'in [...]' must come last in a comparison", node)
                choices = self.member_list(operands[i + 1], depth, left)
                pairs.append(_membership(left.fn, choices, isinstance(op, ast.NotIn)))
                continue
            check = _COMPARISONS.get(type(op))
            if check is None:
                raise self.fail("'is' is not allowed; use == or !=", node)
            right = self.visit(operands[i + 1], depth)
            self.check_comparable(op, left, right, node)
            pairs.append(_comparison(left, right, check))
            compiled.append(right)
        if len(compiled) == 2:
            self.calls.refine_age_probe(operands, compiled)
        fn = pairs[0] if len(pairs) == 1 else _kleene(tuple(pairs), decisive=False)
        const = all(c.const for c in compiled)
        return self.fold(Node(fn, Type.BOOL, const, self.source(node)))

    def check_comparable(self, op: ast.cmpop, left: Node, right: Node, node: ast.AST) -> None:
        if left.type is not right.type:
            raise self.fail(
                f"type mismatch: {left.source!r} is {left.type.describe()} but "
                f"{right.source!r} is {right.type.describe()}",
                node,
            )
        if not isinstance(op, ast.Eq | ast.NotEq) and left.type is not Type.NUMBER:
            raise self.fail(
                f"< > <= >= compare numbers; {left.source!r} is {left.type.describe()}", node
            )

    def member_list(self, node: ast.AST, depth: int, left: Node) -> frozenset[Val]:
        """The `[..]` after `in`: a list literal of constants of the left side's type."""
        if not isinstance(node, ast.List | ast.Tuple):
            raise self.fail('"in" needs a list literal, as in kind in ["classroom", "lab"]', node)
        items: list[Val] = []
        for element in node.elts:
            item = self.visit(element, depth)
            if not item.const:
                raise self.fail("list items must be literal values", element)
            if item.type is not left.type:
                raise self.fail(
                    f"type mismatch: {left.source!r} is {left.type.describe()} but "
                    f"{item.source!r} is {item.type.describe()}",
                    element,
                )
            items.append(item.fn(NO_ENV))
        return frozenset(items)

    def _call(self, node: ast.AST, depth: int) -> Node:
        assert isinstance(node, ast.Call)
        if not isinstance(node.func, ast.Name):
            raise self.fail("only the rule functions can be called, not methods", node)
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.fail(_unknown_function(name), node)
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(f"{name}() takes plain arguments only", node)
        return self.calls.build(name, node, depth)


def _neg(value: Val) -> Val:
    return UNKNOWN if value is UNKNOWN else -value  # type: ignore[operator]


def _div(a: float, b: float) -> Val:
    return UNKNOWN if b == 0 else a / b


_ARITHMETIC: dict[type[ast.operator], Callable[[float, float], Val]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: _div,
}
_OPERATOR_NAMES = {
    ast.Pow: "** (power)",
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
}
_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_REFUSED = {
    ast.Subscript: "subscripts ([...]) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.IfExp: "'x if c else y' is not allowed; write two rules",
    ast.NamedExpr: "':=' is not allowed",
    ast.List: "a list is only allowed after 'in'",
    ast.Tuple: "tuples are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Set: "sets are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}


def _refusal(node: ast.AST) -> str:
    return _REFUSED.get(type(node), f"{type(node).__name__} is not allowed in a rule expression")


def _unknown_function(name: str) -> str:
    close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown function {name!r}{hint}; functions are {', '.join(FUNCTIONS)}"


def _kleene(fns: tuple[Fn, ...], decisive: bool) -> Fn:
    """Three-valued `and` (decisive False) or `or` (decisive True): the decisive value as soon
    as one part has it; else UNKNOWN if a part is UNKNOWN; else the other value."""
    other = not decisive
    if len(fns) == 2:  # the usual shape, with no loop
        first, second = fns

        def both(env: Env) -> Val:
            a = first(env)
            if a is decisive:
                return decisive
            b = second(env)
            if b is decisive:
                return decisive
            return other if a is other and b is other else UNKNOWN

        return both

    def fn(env: Env) -> Val:
        result: Val = other
        for f in fns:
            v = f(env)
            if v is decisive:
                return decisive
            if v is UNKNOWN:
                result = UNKNOWN
        return result

    return fn


def _comparison(left: Node, right: Node, check: Callable[[Any, Any], bool]) -> Fn:
    lf, rf = left.fn, right.fn
    limit = rf(NO_ENV) if right.const and not left.const else UNKNOWN
    if limit is not UNKNOWN:
        # the usual shape, `co2 > 1000`: the constant is taken out of its closure once

        def against_constant(env: Env) -> Val:
            a = lf(env)
            if a is UNKNOWN:
                return UNKNOWN
            return check(a, limit)

        return against_constant

    def fn(env: Env) -> Val:
        a = lf(env)
        if a is UNKNOWN:
            return UNKNOWN
        b = rf(env)
        if b is UNKNOWN:
            return UNKNOWN
        return check(a, b)

    return fn


def _membership(lf: Fn, choices: frozenset[Val], negate: bool) -> Fn:
    def fn(env: Env) -> Val:
        a = lf(env)
        if a is UNKNOWN:
            return UNKNOWN
        return (a in choices) is not negate

    return fn
