"""The expression compiler: what it accepts, what it computes, and what it refuses (and where)."""

from __future__ import annotations

import time

import pytest

from rules.expr import MAX_LENGTH, ExpressionError, compile_expression
from rules.scope import Scope, StaticEnv, Symbol, SymbolKind
from rules.values import UNKNOWN, Type, Val

P, A, ATTR = SymbolKind.POINT, SymbolKind.ACTUATOR, SymbolKind.ATTRIBUTE
SCOPE = Scope(
    {
        "co2": Symbol(P, Type.NUMBER),
        "occupancy": Symbol(P, Type.BOOL),
        "illuminance": Symbol(P, Type.NUMBER),
        "lights": Symbol(A, Type.BOOL),
        "ventilation": Symbol(A, Type.NUMBER),
        "room.kind": Symbol(ATTR, Type.STRING),
        "room.capacity": Symbol(ATTR, Type.NUMBER),
    },
    shared={"b1.outdoor.temperature": Symbol(P, Type.NUMBER)},
)


def run(text: str, **values: Val) -> Val:
    env = StaticEnv(
        values={k.replace("__", "."): v for k, v in values.items()},
        attributes={"room.kind": "classroom", "room.capacity": 30.0},
    )
    return compile_expression(text, SCOPE).evaluate(env)


def refused(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text, SCOPE)
    return info.value


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("occupancy and co2 > 1000", {"occupancy": True, "co2": 1100.0}, True),
        ("occupancy and co2 > 1000", {"occupancy": True, "co2": 900.0}, False),
        ("co2 < 800 or not occupancy", {"occupancy": True, "co2": 900.0}, False),
        ("400 < co2 <= 1000", {"co2": 1000.0}, True),
        ("400 < co2 <= 1000", {"co2": 1001.0}, False),
        ("clamp((co2 - 600) / 4, 20, 100)", {"co2": 1000.0}, 100.0),
        ("clamp((co2 - 600) / 4, 20, 100)", {"co2": 800.0}, 50.0),
        ("clamp((co2 - 600) / 4, 20, 100)", {"co2": 400.0}, 20.0),
        ("-co2 + 2 * 3", {"co2": 1.0}, 5.0),
        ("min(co2, 10, 3) + max(co2, 10)", {"co2": 5.0}, 13.0),
        ("abs(co2 - 10)", {"co2": 4.0}, 6.0),
        ("round(2.5) + round(co2, 1)", {"co2": 1.25}, 4.3),
        ("round(-2.5)", {}, -3.0),
        ("room.kind in ['classroom', 'lab']", {}, True),
        ("room.kind not in ['classroom', 'lab']", {}, False),
        ("room.capacity >= 30 and room.kind == 'classroom'", {}, True),
        ("lights == on", {"lights": True}, True),
        ("lights == off", {"lights": True}, False),
        ("occupancy == true", {"occupancy": False}, False),
        ("ventilation > 50", {"ventilation": 80.0}, True),
        ("b1.outdoor.temperature < 5", {"b1__outdoor__temperature": 3.0}, True),
        ("co2 / 0 > 1", {"co2": 5.0}, UNKNOWN),
    ],
)
def test_evaluates(text: str, values: dict[str, Val], expected: Val) -> None:
    result = run(text, **values)
    if isinstance(expected, float):
        assert result == pytest.approx(expected)
    else:
        assert result is expected


@pytest.mark.parametrize(
    ("text", "occupancy", "co2", "expected"),
    [
        ("occupancy and co2 > 1000", False, UNKNOWN, False),  # false and unknown = false
        ("occupancy and co2 > 1000", True, UNKNOWN, UNKNOWN),
        ("co2 > 1000 and occupancy", UNKNOWN, 900.0, False),
        ("occupancy or co2 > 1000", True, UNKNOWN, True),  # true or unknown = true
        ("occupancy or co2 > 1000", False, UNKNOWN, UNKNOWN),
        ("co2 > 1000 or occupancy", UNKNOWN, 1100.0, True),
        ("not occupancy", UNKNOWN, 0.0, UNKNOWN),
        ("co2 + 1 > 5", True, UNKNOWN, UNKNOWN),
        ("400 < co2 < 300", True, UNKNOWN, UNKNOWN),
        ("clamp(co2, 0, 100) == 5", True, UNKNOWN, UNKNOWN),
        ("max(co2, 3) > 1", True, UNKNOWN, UNKNOWN),
        ("stale(co2)", True, UNKNOWN, True),
        ("stale(co2)", True, 400.0, False),
    ],
)
def test_three_valued_logic(text: str, occupancy: Val, co2: Val, expected: Val) -> None:
    assert run(text, occupancy=occupancy, co2=co2) is expected


def test_booleans_words_and_constant_folding() -> None:
    expression = compile_expression("on and not off or false", SCOPE)
    assert expression.is_constant
    assert expression.evaluate(StaticEnv()) is True
    assert compile_expression("(1 + 2) * 3", SCOPE).evaluate(StaticEnv()) == 9.0


def test_records_what_it_reads() -> None:
    expression = compile_expression(
        "occupancy and co2 > 1000 and not lights and b1.outdoor.temperature < 5", SCOPE
    )
    assert expression.points == {"occupancy", "co2", "b1.outdoor.temperature"}
    assert expression.actuators == {"lights"}
    assert expression.names == {"occupancy", "co2", "b1.outdoor.temperature", "lights"}
    assert not expression.uses_time
    assert expression.type is Type.BOOL
    timed = compile_expression("age(co2) > 60 and during('Mon-Fri 07:00-18:00')", SCOPE)
    assert timed.uses_time
    assert timed.aged == {"co2"}
    assert compile_expression("room.kind", SCOPE).type is Type.STRING
    assert compile_expression("co2 * 2", SCOPE).type is Type.NUMBER


def test_age_and_its_exact_wake_up() -> None:
    expression = compile_expression("age(co2) > 600", SCOPE)
    env = StaticEnv(values={"co2": 500.0}, now=1000.0, seen={"co2": 900.0})
    assert expression.evaluate(env) is False
    assert expression.next_change(env) == 1500.0
    env.now = 1600.0
    assert expression.evaluate(env) is True
    assert expression.next_change(env) is None
    assert expression.evaluate(StaticEnv(now=5.0)) is UNKNOWN


@pytest.mark.parametrize(
    ("text", "col", "fragment"),
    [
        ("().__class__", 0, "attribute access is only"),
        ("().__class__.__base__.__subclasses__()", 0, "only the rule functions"),
        ("co2.__class__", 0, "names starting with '_'"),
        ("__import__('os')", 0, "unknown function '__import__'"),
        ("'{}'.format(co2)", 0, "only the rule functions"),
        ("4000000**4000000", 0, "** (power) is not allowed"),
        ("co2 % 3 > 1", 0, "operator % is not allowed"),
        ("f'{co2}' == 'x'", 0, "f-strings are not allowed"),
        ("(lambda: 1)()", 0, "only the rule functions"),
        ("occupancy and (lambda: 1)", 15, "lambda is not allowed"),
        ("co2[0] > 1", 0, "subscripts"),
        ("[x for x in [1]]", 0, "comprehensions"),
        ("co2 if occupancy else 3", 0, "'x if c else y' is not allowed"),
        ("occupancy > 3", 0, "type mismatch: 'occupancy' is true/false but '3' is a number"),
        ("co2 and 3", 0, "type mismatch: 'and' needs true/false, but 'co2' is a number"),
        ("occupancy + 1", 0, "arithmetic needs a number"),
        ("room.kind < 'b'", 0, "compare numbers"),
        ("room.kind in [1, 2]", 14, "type mismatch"),
        ("co2 in [1, co2]", 11, "literal values"),
        ("co2 in co2", 7, '"in" needs a list literal'),
        ("co3 > 1000", 0, "unknown name 'co3' (did you mean 'co2'?)"),
        ("occupancy and illuminanse < 300", 14, "did you mean 'illuminance'?"),
        ("b1.outdoor.temperatur < 5", 0, "did you mean 'b1.outdoor.temperature'?"),
        ("room.colour == 'red'", 0, "unknown name 'room.colour'"),
        ("sqrt(co2) > 3", 0, "unknown function 'sqrt'"),
        ("mx(co2, 3) > 3", 0, "did you mean 'max'?"),
        ("clamp(co2, 100, 20) > 3", 0, "low 100 is above high 20"),
        ("round(co2, 1.5) > 3", 11, "whole number"),
        ("min(co2) > 3", 0, "at least two"),
        ("age(lights) > 3", 4, "takes a sensor point"),
        ("max(co2, key=3) > 3", 0, "plain arguments"),
        ("co2 is 3", 0, "'is' is not allowed"),
        ("co2 > 1000 ppm", 11, "does not parse"),
        ("occupancy and", 13, "does not parse"),
        ("   ", 0, "empty expression"),
        ("during('Mon-Fry 07:00-18:00')", 12, "unknown day 'Fry'"),
        ("during('Mon-Fri 07:00-18:00, Sat 25:00-26:00')", 33, "bad time 25:00"),
        ("during('weekdays')", 8, "bad time window"),
        ("during(room.kind)", 7, "quoted text"),
        ("1e999 > co2", 0, "number too large"),
        ("9" * 400 + " > co2", 0, "number too large"),
        ("co2 > None", 6, "not a value"),
        ("'café' == room.kind and x", 24, "unknown name 'x'"),
    ],
)
def test_refuses_with_column(text: str, col: int, fragment: str) -> None:
    error = refused(text)
    assert fragment in error.message
    assert error.col == col


def test_refuses_deep_nesting_and_long_text_fast() -> None:
    started = time.perf_counter()
    assert "nested deeper" in refused("-" * 500 + "co2 > 1").message
    assert "nested deeper" in refused("not " * 200 + "occupancy").message
    assert run("(" * 90 + "co2" + ")" * 90 + " > 1", co2=2.0) is True  # parentheses are free
    assert "does not parse" in refused("(" * 300 + "co2" + ")" * 300).message
    deep = "abs(" * 60 + "co2" + ")" * 60 + " > 1"
    assert "nested deeper" in refused(deep).message
    long_text = "co2 + " * 200 + "1 > 0"
    error = refused(long_text)
    assert "longer than" in error.message
    assert error.col == MAX_LENGTH
    assert time.perf_counter() - started < 2.0


def test_expected_type_is_checked() -> None:
    with pytest.raises(ExpressionError, match="expected true/false, but 'co2 \\+ 1' is a number"):
        compile_expression("co2 + 1", SCOPE, expect=Type.BOOL)


def test_leading_blanks_and_line_breaks_keep_columns() -> None:
    error = refused("  occupancy and\nco3 > 1")
    assert error.col == 16
    assert run("occupancy and\n co2 > 1", occupancy=True, co2=2.0) is True


def test_negated_is_kleene_not() -> None:
    expression = compile_expression("occupancy", SCOPE).negated()
    assert expression.evaluate(StaticEnv(values={"occupancy": True})) is False
    assert expression.evaluate(StaticEnv()) is UNKNOWN
    assert expression.points == {"occupancy"}
