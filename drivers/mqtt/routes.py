"""The topic index: which points and actuators each subscribed topic feeds, built once.

A message costs one dict lookup to find everything it concerns, however large the campus. A
multisensor topic feeds all its points; an actuator's state topic feeds the actuator's reported
state; a Z2M device's ``<topic>/availability`` feeds every point and actuator on that topic.
Bindings that cannot work are left out and listed in `problems`, the rest runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from campus.model import ActuatorSpec, Campus, PayloadFormat, ValueType
from campus.problems import DriverError
from drivers.mqtt.codec import INT_LIMIT, SensorKey, Target, actuator_target, point_target


@dataclass(slots=True)
class Route:
    """Everything one topic carries."""

    topic: str
    state: list[Target] = field(default_factory=list)
    """Targets decoded from this topic's payload (all of one format)."""
    availability: list[Target] = field(default_factory=list)
    """Targets whose device announces online/offline on this topic."""
    sensors: tuple[SensorKey, ...] | None = None
    """For a Zigbee2MQTT topic that feeds only points: each point's key, in `state`'s order,
    for `codec.sensor_readings`; None otherwise."""

    @property
    def format(self) -> PayloadFormat | None:
        return self.state[0].format if self.state else None


@dataclass(slots=True)
class RouteTable:
    routes: dict[str, Route] = field(default_factory=dict)
    actuators: dict[str, tuple[ActuatorSpec, Target]] = field(default_factory=dict)
    """Actuators that can be commanded over MQTT, by id, with their target (made once here,
    not per command)."""
    problems: list[str] = field(default_factory=list)

    @property
    def topics(self) -> list[str]:
        """Every topic to subscribe to, sorted (exact topics, no wildcards)."""
        return sorted(self.routes)

    def add(self, target: Target) -> None:
        """Index one target under its topic (and its availability topic for Z2M)."""
        route = self.routes.setdefault(target.topic, Route(target.topic))
        if route.format is not None and route.format is not target.format:
            self.problems.append(
                f"{target.id}: topic {target.topic} is already read as {route.format}, "
                f"not {target.format}; binding ignored"
            )
            return
        route.state.append(target)
        if target.format is PayloadFormat.Z2M:
            topic = f"{target.topic}/availability"
            self.routes.setdefault(topic, Route(topic)).availability.append(target)


def build_routes(campus: Campus) -> RouteTable:
    """Index every MQTT-bound point and actuator of the campus by topic."""
    table = RouteTable()
    for room in campus.rooms:
        for point in room.points.values():
            if point.mqtt is None:
                continue
            try:
                table.add(point_target(point))
            except DriverError as exc:
                table.problems.append(f"{exc}; binding ignored")
        for actuator in room.actuators.values():
            if actuator.mqtt is None:
                continue
            try:
                target = actuator_target(actuator)
            except DriverError as exc:
                table.problems.append(f"{exc}; actuator ignored")
                continue
            table.add(target)
            table.actuators[actuator.id] = (actuator, target)
    for route in table.routes.values():
        route.sensors = sensor_keys(route.state)
    return table


def sensor_keys(targets: list[Target]) -> tuple[SensorKey, ...] | None:
    """`Route.sensors` of a topic's state targets."""
    if not targets or any(t.actuator or t.format is not PayloadFormat.Z2M for t in targets):
        return None
    keys = []
    for t in targets:
        low, high = t.range if t.range is not None else (-INT_LIMIT, INT_LIMIT)
        keys.append((t.id, t.key, t.type is ValueType.NUMBER, low, high))
    return tuple(keys)
