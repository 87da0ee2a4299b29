"""What names an expression may use (its Scope, at compile time) and their values (its Env, at run
time).

Names are resolved once, when a rule loads, to a Symbol with a kind and a static type; the
compiled expression then only asks its Env for values by the same key. A rule is compiled once
for all the rooms it covers, and each room instance supplies its own Env, so 1,000 classrooms
share one compiled rule.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from campus.model import Period
from rules.values import UNKNOWN, Type, Val


class SymbolKind(Enum):
    POINT = "point"
    ACTUATOR = "actuator"
    ATTRIBUTE = "attribute"
    """A fixed fact about the room or building (``room.kind``, ``capacity``)."""


@dataclass(frozen=True, slots=True)
class Symbol:
    kind: SymbolKind
    type: Type


class Env(Protocol):
    """Values for one evaluation: the current time, and the value of each resolved name."""

    @property
    def now(self) -> float: ...

    def value(self, key: str) -> Val:
        """A point's or actuator's current value, UNKNOWN when it has none."""
        ...

    def last_seen(self, key: str) -> float | None:
        """When a point last had a usable reading (None: never)."""
        ...

    def attribute(self, key: str) -> Val:
        """A room or building attribute such as ``room.kind``."""
        ...


@dataclass
class StaticEnv:
    """An Env over plain dicts: for `rooms:` filters, constant folding and tests."""

    values: dict[str, Val] = field(default_factory=dict)
    now: float = 0.0
    seen: dict[str, float] = field(default_factory=dict)
    attributes: dict[str, Val] = field(default_factory=dict)

    def value(self, key: str) -> Val:
        return self.values.get(key, UNKNOWN)

    def last_seen(self, key: str) -> float | None:
        return self.seen.get(key)

    def attribute(self, key: str) -> Val:
        return self.attributes.get(key, UNKNOWN)


class Scope:
    """The names one expression may use.

    `symbols` are this expression's own names (a room's bare point names, ``room.kind``);
    `shared` are campus-wide names (full point ids) kept in one mapping for all rules; `hints`
    explain names that exist but may not be used here (better than "unknown name").
    """

    def __init__(
        self,
        symbols: Mapping[str, Symbol],
        shared: Mapping[str, Symbol] | None = None,
        hints: Mapping[str, str] | None = None,
        timetable: Mapping[int, tuple[Period, ...]] | None = None,
    ) -> None:
        self.symbols = symbols
        self.shared = shared if shared is not None else {}
        self.hints = hints if hints is not None else {}
        self.timetable = timetable
        """The campus timetable for `in_session` (None: time may not be used here)."""

    def lookup(self, name: str) -> Symbol | None:
        found = self.symbols.get(name)
        if found is None:
            found = self.shared.get(name)
        return found

    def explain_unknown(self, name: str) -> str:
        """Why `name` cannot be used, with a "did you mean" when one is close."""
        hint = self.hints.get(name)
        if hint is not None:
            return hint
        pool: Iterable[str] = self.symbols
        if "." in name:
            pool = [*self.symbols, *self.shared]
        close = difflib.get_close_matches(name, list(pool) + list(self.hints), n=1, cutoff=0.6)
        suggestion = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown name {name!r}{suggestion}"
