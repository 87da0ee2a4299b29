"""The pieces of graceful degradation as pure logic: the devices' heartbeat timer
(simulators.fallback) and what counts as a device in its commanded state (controller.resync)."""

from __future__ import annotations

import pytest

from campus.model import ActuatorSpec, ActuatorType
from controller.resync import matches
from simulators.fallback import FallbackSettings, Watchdog


def test_the_devices_fall_back_once_after_the_missed_heartbeats() -> None:
    dog = Watchdog(FallbackSettings(missed=3, interval=60.0), start=0.0)
    assert not dog.due(180.0)
    dog.heartbeat(100.0, b'{"ts":100,"interval":30,"fallback_after":3}', retained=False)
    assert dog.interval == 30.0
    assert not dog.due(190.0)
    assert dog.due(190.1)
    assert not dog.due(500.0), "fell back twice in one outage"
    assert dog.fallbacks == 1
    dog.heartbeat(600.0, b"{}", retained=False)
    assert not dog.fallen_back
    assert dog.due(690.1)
    assert dog.fallbacks == 2


def test_a_retained_heartbeat_proves_nothing() -> None:
    dog = Watchdog(FallbackSettings(missed=2, interval=10.0), start=0.0)
    dog.heartbeat(15.0, b'{"ts":0,"interval":10}', retained=True)
    assert dog.due(20.1), "a replayed, old heartbeat restarted the timer"


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"interval":-1}', b'{"interval":true}'])
def test_odd_heartbeats_keep_the_known_interval(payload: bytes) -> None:
    dog = Watchdog(FallbackSettings(interval=60.0), start=0.0)
    dog.heartbeat(1.0, payload, retained=False)
    assert dog.interval == 60.0
    assert dog.last == 1.0


def test_settings_refuse_what_cannot_work() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FallbackSettings(missed=0)
    with pytest.raises(ValueError, match="positive"):
        FallbackSettings(interval=0.0)


def spec(kind: ActuatorType, deadband: float = 0.0) -> ActuatorSpec:
    return ActuatorSpec("b1.r101.x", "x", "b1.r101", kind, False, deadband=deadband)


def test_what_counts_as_the_commanded_state() -> None:
    switch, level = spec(ActuatorType.SWITCH), spec(ActuatorType.LEVEL)
    assert matches(switch, True, True)
    assert not matches(switch, False, True)
    assert matches(level, 50.4, 50.0), "a device's rounding is not a mismatch"
    assert not matches(level, 40.0, 50.0)
    assert matches(spec(ActuatorType.LEVEL, deadband=5.0), 46.0, 50.0)
