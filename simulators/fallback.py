"""The simulated devices' fallback when the controller's heartbeat stops.

Real deployments put this logic next to the devices (docs/operations.md: a Tasmota rule timer,
a Zigbee2MQTT external extension, a Home Assistant automation); the simulator's devices do the
same so that tests and the demo show it. The controller publishes ``campusctl/<site>/heartbeat``
every `interval` seconds of its clock (controller/heartbeat.py). Each live heartbeat restarts
the devices' timer; after `missed` intervals without one, every device goes to its safe state
once (lights off, ventilation at a safe minimum) and stays there until the controller, back,
commands it again.

Only live heartbeats count: the broker replays the retained one to every new subscriber,
however old it is, so a retained message says nothing about whether the controller lives. The
timer runs on the simulator's clock and starts when the simulator does, so a campus that never
sees a controller falls back too.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from campus import wire
from campus.types import Value

log = logging.getLogger("campusctl.sim")

SAFE_STATE: Mapping[str, Value] = {"lights": False, "ventilation": 20.0}
"""Lights off; ventilation at 20 % of design airflow, a minimum that keeps an empty room from
going stale without running the fans at full power for nobody."""


@dataclass(frozen=True, slots=True)
class FallbackSettings:
    missed: int = 3
    """Heartbeats missed in a row before the devices fall back."""
    interval: float = 60.0
    """Seconds between heartbeats until a heartbeat says otherwise (its ``interval`` field)."""
    safe: Mapping[str, Value] = field(default_factory=lambda: dict(SAFE_STATE))
    """Actuator name -> the value devices take when they fall back."""

    def __post_init__(self) -> None:
        if self.missed < 1:
            raise ValueError(f"fallback after at least 1 missed heartbeat, got {self.missed}")
        if not self.interval > 0:
            raise ValueError(f"heartbeat interval must be positive, got {self.interval}")


class Watchdog:
    """The timer of one building's devices: when the last live heartbeat for them came, and
    whether they fell back. A heartbeat that names buildings (a shard's, docs/scaling.md)
    counts only for those; one that names none counts for every building."""

    def __init__(self, settings: FallbackSettings, start: float, building: str = "") -> None:
        self.settings = settings
        self.building = building
        self.interval = settings.interval
        self.last = start
        self.fallen_back = False
        self.fallbacks = 0
        """How often the devices fell back (for tests and the summary)."""
        self.fell_back_at: float | None = None
        """When they last did (device clock)."""

    @property
    def deadline(self) -> float:
        return self.last + self.interval * self.settings.missed

    def heartbeat(self, now: float, payload: bytes, retained: bool) -> None:
        """A heartbeat arrived at `now` (device clock); `retained`: replayed by the broker."""
        message = _message(payload)
        if (
            message
            and self.building
            and message.buildings
            and self.building not in message.buildings
        ):
            return  # another shard's buildings
        interval = _interval(message)
        if interval is not None:
            self.interval = interval
        if retained:
            return
        self.last = now
        if self.fallen_back:
            log.info("controller heartbeat is back%s; devices wait for its commands", self._where())
        self.fallen_back = False

    def _where(self) -> str:
        return f" for building {self.building}" if self.building else ""

    def due(self, now: float) -> bool:
        """True once per outage: when the devices must fall back now."""
        if self.fallen_back or now <= self.deadline:
            return False
        self.fallen_back = True
        self.fallbacks += 1
        self.fell_back_at = now
        log.warning(
            "no controller heartbeat%s for %.0f s (%d missed): devices fall back to %s",
            self._where(),
            now - self.last,
            self.settings.missed,
            ", ".join(f"{name} {value}" for name, value in self.settings.safe.items()),
        )
        return True


def _message(payload: bytes) -> wire.HeartbeatMessage | None:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return wire.decode(wire.HeartbeatMessage, data) if isinstance(data, dict) else None


def _interval(message: wire.HeartbeatMessage | None) -> float | None:
    """The heartbeat's interval; None when the message has no usable one."""
    if message is None or not message.interval:
        return None
    value = message.interval
    return value if math.isfinite(value) and value > 0 else None
