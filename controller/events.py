"""Events the controller itself emits on its bus (the engine's are in rules.events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from campus.types import Reading


class Readings(NamedTuple):
    """The readings of one batch from a driver (a read burst), in arrival order, for the
    campus's points and actuators' reported states: one bus event per batch rather than per
    reading, as a busy campus sends thousands of readings a second."""

    readings: list[Reading]


@dataclass(frozen=True, slots=True)
class Audit:
    """A person (or the controller on someone's behalf) changed something: who, what, when.

    `action` is one of ``override``, ``release-override``, ``acknowledge-alarm``,
    ``enable-rule``, ``disable-rule``, ``reload-rules``; `detail` says on what, in words.
    """

    who: str
    action: str
    detail: str
    ts: float
