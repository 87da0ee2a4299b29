"""The pieces compiled expressions are made of, shared by the compiler and its functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from campus.problems import CampusError
from rules.scope import Env
from rules.values import Type, Val

Fn = Callable[[Env], Val]
Probe = Callable[[Env], float | None]
"""The next time at which an expression's value may change with no new input (time windows,
age thresholds), or None."""


class ExpressionError(CampusError):
    """An expression that cannot be compiled; `col` is the 0-based character offset in it."""

    def __init__(self, message: str, col: int) -> None:
        super().__init__(message)
        self.message = message
        self.col = col


@dataclass(slots=True)
class Node:
    """A compiled subtree: its closure, static type, whether it is constant, and its text."""

    fn: Fn
    type: Type
    const: bool
    source: str
    op: str = ""
    """``and``, ``or``, ``not`` for the nodes `explain` breaks down into `parts`."""
    parts: tuple[Node, ...] = ()


def const_node(value: Val, type_: Type, source: str) -> Node:
    return Node(lambda env: value, type_, True, source)


class _NoEnv:
    """The Env for constant folding: a constant never asks it for anything."""

    now = 0.0

    def value(self, key: str) -> Val:
        raise AssertionError(key)

    def last_seen(self, key: str) -> float | None:
        raise AssertionError(key)

    def attribute(self, key: str) -> Val:
        raise AssertionError(key)


NO_ENV = _NoEnv()
