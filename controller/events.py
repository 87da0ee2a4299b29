"""Events the controller itself emits on its bus (the engine's are in rules.events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from campus.types import Batch, Reading


class Readings(NamedTuple):
    """One batch from a driver (a read burst): the readings of each device message, in arrival
    order, for the campus's points and actuators' reported states; one bus event per batch
    rather than per reading, as a busy campus sends thousands of readings a second."""

    messages: Batch


class Reported(NamedTuple):
    """The states actuators reported in one batch, in arrival order (also in `Readings`): for
    extensions that follow devices rather than rooms, so they need not scan every reading."""

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
