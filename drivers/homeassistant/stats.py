"""Counters and failed commands the Home Assistant driver keeps for the TUI, logs and tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class HaStats:
    """Updated on the event loop by the driver; read them from the event loop too."""

    connects: int = 0
    """Sessions that got as far as reading every state (the first one included)."""
    disconnects: int = 0
    """Sessions lost after having been established."""
    connect_failures: int = 0
    """Attempts that did not get a session (refused, unreachable, token rejected)."""
    resyncs: int = 0
    """Full reads of every state (one per session, one more when HA finishes starting)."""
    events: int = 0
    """state_changed events for bound entities."""
    readings: int = 0
    """Readings handed to `HomeAssistantDriver.readings`."""
    unusable_states: int = 0
    """States that gave no value (not a number, a unit that does not match...)."""
    commands_sent: int = 0
    """Service calls Home Assistant accepted."""
    commands_failed: int = 0
    """Service calls refused by Home Assistant, or for entities it does not have."""
    commands_held: int = 0
    """Commands that arrived while disconnected and waited for the reconnect."""
    commands_superseded: int = 0
    """Waiting commands replaced by a newer one for the same actuator (only the latest is sent)."""


@dataclass(frozen=True, slots=True)
class CommandFailure:
    """A command Home Assistant did not carry out, and its own words why."""

    actuator: str
    entity: str
    service: str
    """``light.turn_on``."""
    message: str
    ts: float
    """When it failed, on the driver's clock."""

    def __str__(self) -> str:
        return f"{self.actuator} ({self.entity}, {self.service}): {self.message}"
