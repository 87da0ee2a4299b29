"""Which points and actuators each Home Assistant entity feeds, built once from the campus.

One entity may feed several targets (a climate entity's current temperature as a point and its
target temperature as an actuator, say), so a state change costs one dict lookup however large
the campus.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from campus.model import ActuatorSpec, Campus, HaBinding, PointSpec
from drivers.homeassistant.mapping import Decoded, decode_actuator, decode_point


@dataclass(frozen=True, slots=True)
class Target:
    """A point, or an actuator's reported state, read from one entity."""

    spec: PointSpec | ActuatorSpec
    binding: HaBinding

    @property
    def id(self) -> str:
        return self.spec.id

    def decode(self, state: Mapping[str, Any]) -> Decoded:
        if isinstance(self.spec, PointSpec):
            return decode_point(self.spec, self.binding, state)
        return decode_actuator(self.spec, self.binding, state)


@dataclass(slots=True)
class EntityIndex:
    entities: dict[str, list[Target]] = field(default_factory=dict)
    """Entity id -> what it feeds."""
    actuators: dict[str, tuple[ActuatorSpec, HaBinding]] = field(default_factory=dict)
    """Actuator id -> its spec and entity, for commands."""

    def add(self, spec: PointSpec | ActuatorSpec, binding: HaBinding) -> None:
        self.entities.setdefault(binding.entity, []).append(Target(spec, binding))
        if isinstance(spec, ActuatorSpec):
            self.actuators[spec.id] = (spec, binding)


def build_index(campus: Campus) -> EntityIndex:
    """Index every point and actuator of the campus that is bound to a Home Assistant entity."""
    index = EntityIndex()
    for room in campus.rooms:
        for point in room.points.values():
            if point.homeassistant is not None:
                index.add(point, point.homeassistant)
        for actuator in room.actuators.values():
            if actuator.homeassistant is not None:
                index.add(actuator, actuator.homeassistant)
    return index
