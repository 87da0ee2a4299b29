"""Checks for what staff ask of a running controller (overrides, acknowledgements, rules).

Requests arrive from the control plane, the TUI and the CLI with values typed by people; each
check raises CampusError with a sentence that says what is wrong and what would be right, so
the control plane can hand it back verbatim.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable

from campus.model import ActuatorSpec, ActuatorType
from campus.problems import CampusError
from campus.types import Value


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A close spelling, or else the one name that starts with what was typed."""
    names = list(known)
    close = difflib.get_close_matches(name, names, n=1)
    if not close:
        close = [n for n in names if name and n.startswith(name)][:2]
        close = close if len(close) == 1 else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_who(who: object) -> str:
    if not isinstance(who, str) or not who.strip():
        raise CampusError(f"who must name the person asking, got {who!r}")
    return who.strip()


def find_actuator(actuators: dict[str, ActuatorSpec], actuator_id: object) -> ActuatorSpec:
    if not isinstance(actuator_id, str):
        raise CampusError(f"actuator id must be a string like b1.r101.lights, got {actuator_id!r}")
    spec = actuators.get(actuator_id)
    if spec is None:
        hint = did_you_mean(actuator_id, actuators)
        raise CampusError(f"no actuator {actuator_id!r} in the campus{hint}")
    return spec


def check_value(spec: ActuatorSpec, value: object) -> Value:
    """`value` as the actuator takes it (a level as float), or CampusError."""
    if spec.type is ActuatorType.SWITCH:
        if not isinstance(value, bool):
            raise CampusError(f"{spec.id} is a switch: give true or false, not {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        low, high = spec.range
        raise CampusError(f"{spec.id} is a level: give a number {low:g}..{high:g}, not {value!r}")
    low, high = spec.range
    if not low <= value <= high:
        unit = f" {spec.unit}" if spec.unit else ""
        raise CampusError(f"{spec.id}: {value:g}{unit} is outside its range {low:g}..{high:g}")
    return float(value)


def check_until(until: object, now: float) -> float:
    if isinstance(until, bool) or not isinstance(until, int | float) or not math.isfinite(until):
        raise CampusError(f"until must be a time in POSIX seconds, got {until!r}")
    if until <= now:
        raise CampusError(
            f"until is {now - until:.0f} s in the past: an override must end in the future"
        )
    return float(until)


MAX_REASON = 200
"""Characters of an override's reason: a sentence for the audit, not a document."""


def check_reason(reason: object) -> str:
    """Why staff hold an actuator: one line of text ("" for none), kept whole in the audit."""
    if not isinstance(reason, str):
        raise CampusError(f"reason must be text, got {reason!r}")
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise CampusError(f"reason has {len(reason)} characters: keep it to {MAX_REASON}")
    if any(not c.isprintable() for c in reason):
        raise CampusError("reason must be one line of printable text (no newlines or tabs)")
    return reason


def check_flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise CampusError(f"{what} must be true or false, got {value!r}")
    return value
