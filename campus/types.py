"""Values that flow between drivers, the rules engine and the controller."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

Value = float | bool
"""A point or actuator value: numbers are floats, on/off and occupancy are bools."""


class Quality(StrEnum):
    """How far a reading can be trusted."""

    GOOD = "good"
    UNAVAILABLE = "unavailable"
    """The device said it is offline (or the driver lost it): the point becomes unknown."""


class Reading(NamedTuple):
    """One value of one point, as a driver decoded it.

    `point` is a full point id such as ``b1.r101.co2``. `value` is None when the quality is not
    good. (Readings and commands are named tuples: immutable, and a multisensor message makes
    several readings, so the cost of building one counts: a tuple is cheaper than a frozen
    dataclass, bench/README.md, "Rules engine speed".)
    """

    point: str
    value: Value | None
    ts: float
    quality: Quality = Quality.GOOD


Message = list[Reading]
"""The readings of one device message (a multisensor's JSON object, a serial frame, a Home
Assistant state change): simultaneous, so the rules see them together."""
Batch = list[Message]
"""Messages a driver hands over at once (one socket read), in the order they arrived: each is
evaluated on its own, in that order."""


class Command(NamedTuple):
    """A new winning value for an actuator, and why it won.

    `actuator` is a full actuator id such as ``b1.r101.lights``; `source` names who holds the
    winning slot (``rule:<id>``, ``override:<user>``, ``default``); `priority` is the slot
    (1..16, 17 for the relinquish default); `reason` is one human sentence.
    """

    actuator: str
    value: Value
    ts: float
    source: str
    priority: int
    reason: str


def point_id(building: str, room: str, name: str) -> str:
    """The full id of a room's point or actuator: ``b1.r101.co2``."""
    return f"{building}.{room}.{name}"


def split_id(full_id: str) -> tuple[str, str, str]:
    """``b1.r101.co2`` -> ``("b1", "r101", "co2")``."""
    building, room, name = full_id.split(".", 2)
    return building, room, name
