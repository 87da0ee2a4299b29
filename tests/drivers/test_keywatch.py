"""Warn once when a key a binding relies on stops arriving."""

from __future__ import annotations

import logging

import pytest

from drivers.mqtt.keywatch import KeyWatch
from drivers.mqtt.throttle import LogThrottle


def test_warns_once_at_the_threshold_and_again_after_the_key_returns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = KeyWatch(threshold=3)
    caplog.set_level(logging.INFO, logger="campusctl.mqtt")
    for _ in range(10):
        watch.observe("z/s", present=["co2"], missing=["illuminance"])
    assert watch.warnings == 1
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "z/s" in warning.getMessage()
    assert "'illuminance'" in warning.getMessage()
    watch.observe("z/s", present=["co2", "illuminance"], missing=[])
    assert "is back" in caplog.records[-1].getMessage()
    assert not watch.tracking("z/s")
    for _ in range(3):
        watch.observe("z/s", present=["co2"], missing=["illuminance"])
    assert watch.warnings == 2


def test_partial_updates_below_the_threshold_stay_quiet(caplog: pytest.LogCaptureFixture) -> None:
    watch = KeyWatch(threshold=3)
    for _ in range(5):
        watch.observe("z/s", present=["co2"], missing=["occupancy"])
        watch.observe("z/s", present=["occupancy"], missing=["co2"])
    assert watch.warnings == 0
    assert not caplog.records


def test_throttle_logs_the_first_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    throttle = LogThrottle(logging.getLogger("campusctl.mqtt"), interval=3600)
    assert throttle.warning("a", "first on a")
    assert not throttle.warning("a", "second on a")
    assert throttle.warning("b", "first on b")
    assert [r.getMessage() for r in caplog.records] == ["first on a", "first on b"]
    throttle.interval = 0
    assert throttle.warning("a", "third on a")
    assert caplog.records[-1].getMessage().startswith("third on a (1 more like it")
