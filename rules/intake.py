"""A reading's value as its point takes it, and the engine's counts of what it refused.

The engine's hot path handles the common case inline (a finite number for a number point);
everything else comes here: offline devices, bools, values of the wrong type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from campus.model import PointSpec, ValueType
from campus.types import Quality, Reading
from rules.values import UNKNOWN, Val


@dataclass
class EngineStats:
    readings: int = 0
    not_a_point: int = 0
    """Readings for ids that are not points (actuator feedback): ignored."""
    wrong_type: int = 0
    """Readings whose value did not fit the point's type: the point became unknown."""
    cascade_cutoffs: int = 0
    implausible: int = 0
    """Readings outside the point's plausible range: ignored, as if never sent."""


def convert(spec: PointSpec, reading: Reading, stats: EngineStats) -> Val:
    """The reading's value as the point's type, or UNKNOWN (offline, or the wrong type)."""
    value = reading.value
    if reading.quality is not Quality.GOOD or value is None:
        return UNKNOWN
    if spec.type is ValueType.BOOL:
        if isinstance(value, bool):
            return value
    elif not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    stats.wrong_type += 1
    return UNKNOWN
