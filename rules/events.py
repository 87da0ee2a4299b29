"""What the engine reports besides commands: rule transitions and alarm changes.

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
