"""The events view's filter: words matched against an event's fields, not its rendered text.

``type:audit who:alice`` keeps alice's audits. A plain word (``override``, ``r102``, ``alice``)
matches any field that names something (type, room, rule, actuator, who, action, source,
severity, state, value, detail), not the explanations (reason, cause, message): "override" finds
the overrides, not every command whose reason says "no rule or override holds". ``reason:co2``
looks in one field, explanations included. Every word must match; a part of a value is enough
(``r10`` finds main.r101); case does not matter. Pure logic: no Textual.
"""

from __future__ import annotations

import dataclasses
from typing import get_args

from campus import wire
from campus.text import value_text

PROSE = frozenset({"reason", "cause", "message"})
"""Fields that explain rather than name: only a ``field:`` word looks in them."""
TYPE_NAMES = {"command": ("command", "cmd"), "transition": ("transition", "rule")}
"""Event types with the label the view shows for them."""
DERIVED = ("who", "rule", "state", "value")
FIELDS = frozenset(
    {f.name for tp in get_args(wire.Event) for f in dataclasses.fields(tp)} | set(DERIVED)
) - {"event_id"}
"""The names a ``field:`` word can use."""

Term = tuple[str, str]
"""(field name, or "" for any naming field; the text to find, lower case)."""


def parse_filter(text: str) -> list[Term]:
    """The filter's words; ``name:text`` looks in one field when `name` is a field's name (else
    the whole word is a plain word: ``override:alice`` finds that source)."""
    terms: list[Term] = []
    for word in text.lower().split():
        name, colon, rest = word.partition(":")
        if colon and rest and name in FIELDS:
            terms.append((name, rest))
        else:
            terms.append(("", word))
    return terms


def matches(terms: list[Term], event: wire.Event) -> bool:
    if not terms:
        return True
    values = event_fields(event)
    for name, text in terms:
        if name:
            found = any(text in v.lower() for v in values.get(name, ()))
        else:
            found = any(
                text in v.lower() for key, vs in values.items() if key not in PROSE for v in vs
            )
        if not found:
            return False
    return True


def event_fields(event: wire.Event) -> dict[str, tuple[str, ...]]:
    """An event's text fields by name, with what the view shows in other words: a command's
    value, the rule or user in its source, a transition's two states, an alarm's state and who
    acknowledged it."""
    out: dict[str, tuple[str, ...]] = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, str) and f.name != "event_id":
            out[f.name] = (value,)
    out["type"] = TYPE_NAMES.get(event.type, (event.type,))
    if isinstance(event, wire.CommandEvent):
        out["value"] = (value_text(event.value),)
        kind, _, name = event.source.partition(":")
        if kind in ("rule", "override"):
            out["rule" if kind == "rule" else "who"] = (name,)
    elif isinstance(event, wire.TransitionEvent):
        out["state"] = (event.old_state, event.new_state)
    elif isinstance(event, wire.AlarmEvent):
        state = "acknowledged" if event.acknowledged_by else "active" if event.active else "cleared"
        out["state"] = (state,)
        out["who"] = (event.acknowledged_by or "",)
    return out
