"""What the engine reports besides commands: rule transitions, alarm changes, and changes staff
made (overrides, enabled rules, a reload) whoever asked for them.

The engine hands these to one listener (the controller puts them on its bus); the history,
the control plane and the TUI subscribe by type, so the names and fields are a contract.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.alarms import Alarm


@dataclass(frozen=True, slots=True)
class Transition:
    """One rule instance changed state (``inactive`` -> ``pending`` ...)."""

    rule: str
    room: str
    old_state: str
    new_state: str
    ts: float
    cause: str
    """What made it happen: ``b1.r101.co2=1104 ppm``, ``held 120s``, ``the clock``, ``reload``."""


@dataclass(frozen=True, slots=True)
class AlarmChanged:
    """An alarm was raised, seen again after clearing, cleared, or acknowledged."""

    alarm: Alarm


@dataclass(frozen=True, slots=True)
class OverrideChanged:
    """An actuator's override was set, released or ran out (its room's state changed even when
    the winning value did not)."""

    actuator: str
    ts: float


@dataclass(frozen=True, slots=True)
class RulesChanged:
    """A rule was enabled or disabled (`rule`), or the rules were replaced by a reload (None):
    whether asked by a request, SIGHUP or the file watch."""

    rule: str | None
    ts: float
