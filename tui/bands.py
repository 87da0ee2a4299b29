"""Comfort bands: is a value good, fair, poor or bad for learning, and which rooms need staff.

Thresholds from docs/domain.md: CO2 after EN 16798-1 categories and BB101 (800 / 1000 /
1500 ppm), classroom illuminance 300 lx (EN 12464-1; only while someone is in), operative
temperature 20-26 °C (EN 16798-1 category II), relative humidity 25-60 % (category II).
The same band means the same colour on every screen.
"""

from __future__ import annotations

from enum import IntEnum

from campus.wire import Alarm, RoomSpec, RoomState


class Band(IntEnum):
    """Worse is larger, so bands sort and compare."""

    NONE = 0
    """No value, or no judgement (lights of an empty room)."""
    GOOD = 1
    FAIR = 2
    POOR = 3
    BAD = 4


STYLE = {
    Band.NONE: "",
    Band.GOOD: "green",
    Band.FAIR: "yellow",
    Band.POOR: "dark_orange",
    Band.BAD: "bold red",
}


def band(point: str, value: float | bool | None, occupied: bool | None = None) -> Band:
    if value is None or isinstance(value, bool):
        return Band.NONE
    if point == "co2":
        return _upper(value, 800, 1000, 1500)
    if point == "temperature":
        if 20 <= value <= 24:
            return Band.GOOD
        if 19 <= value <= 26:
            return Band.FAIR
        return Band.POOR if 17 <= value <= 28 else Band.BAD
    if point == "humidity":
        if 30 <= value <= 50:
            return Band.GOOD
        if 25 <= value <= 60:
            return Band.FAIR
        return Band.POOR if 20 <= value <= 70 else Band.BAD
    if point == "illuminance":
        if not occupied:
            return Band.NONE
        if value >= 300:
            return Band.GOOD
        return Band.FAIR if value >= 200 else Band.POOR
    return Band.NONE


def _upper(value: float, good: float, fair: float, poor: float) -> Band:
    if value <= good:
        return Band.GOOD
    if value <= fair:
        return Band.FAIR
    return Band.POOR if value <= poor else Band.BAD


def stale_points(state: RoomState | None) -> list[str]:
    if state is None:
        return []
    return [n for n, p in state.points.items() if p.quality in ("stale", "none")]


def offline(state: RoomState | None) -> list[str]:
    """Points and actuators whose device said it is offline."""
    if state is None:
        return []
    points = [n for n, p in state.points.items() if p.quality == "unavailable"]
    return points + [n for n, a in state.actuators.items() if not a.online]


def worst_band(state: RoomState | None) -> Band:
    if state is None:
        return Band.NONE
    occupied = _occupied(state)
    return max(
        (band(name, p.value, occupied) for name, p in state.points.items()), default=Band.NONE
    )


def _occupied(state: RoomState) -> bool | None:
    point = state.points.get("occupancy")
    value = point.value if point is not None else None
    return value if isinstance(value, bool) else None


def urgency(spec: RoomSpec, state: RoomState | None, alarms: list[Alarm]) -> tuple[float, ...]:
    """A sort key, most urgent first: alarms (unacknowledged first), offline devices, stale
    sensors, CO2, the worst band, then campus order (by the caller's stable sort)."""
    unacknowledged = sum(1 for a in alarms if a.acknowledged_by is None)
    co2 = state.points.get("co2") if state is not None else None
    co2_value = co2.value if co2 is not None and not isinstance(co2.value, bool) else None
    return (
        -unacknowledged,
        -len(alarms),
        -len(offline(state)),
        -len(stale_points(state)),
        -band("co2", co2_value),
        -worst_band(state),
        -(co2_value or 0.0),
    )
