"""What a rule expression computes with: typed values plus UNKNOWN, and three-valued logic.

A sensor that is stale, offline or never heard from has no value. Treating it as false (or 0)
would switch a room's ventilation off because a battery died, so expressions carry UNKNOWN
instead: arithmetic and comparisons with it stay UNKNOWN, and `and`/`or` follow Kleene logic so
that an answer that does not depend on the missing value is still given (false and unknown is
false; true or unknown is true).
"""

from __future__ import annotations

import enum
from enum import Enum
from typing import Final, Literal


class Unknown(Enum):
    """The type of UNKNOWN (an enum member so `is UNKNOWN` narrows types for mypy)."""

    UNKNOWN = "unknown"

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> Literal[False]:
        raise TypeError("UNKNOWN has no truth value: compare it with `is UNKNOWN`")


UNKNOWN: Final = Unknown.UNKNOWN

Val = float | bool | str | Unknown
"""A value during evaluation. Numbers are floats; bools are never mixed with numbers."""


@enum.unique
class Type(Enum):
    """The static type of an expression, checked when a rule is loaded."""

    BOOL = "bool"
    NUMBER = "number"
    STRING = "string"

    def describe(self) -> str:
        return {"bool": "true/false", "number": "a number", "string": "text"}[self.value]


def kleene_not(value: Val) -> Val:
    if value is UNKNOWN:
        return UNKNOWN
    return not value


def format_value(value: Val, unit: str = "") -> str:
    """How a value reads in a command's reason: ``true``, ``1104 ppm``, ``unknown``."""
    if value is UNKNOWN:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    text = f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
    return f"{text} {unit}" if unit else text
