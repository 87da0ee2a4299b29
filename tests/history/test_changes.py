"""Write on change: deadband, heartbeat, quality changes."""

from __future__ import annotations

from campus.types import Quality, Reading
from controller.history.changes import ChangeFilter


def written(changes: ChangeFilter, readings: list[Reading]) -> list[tuple[float, object]]:
    name = readings[0].point.rpartition(".")[2]
    return [(r.ts, r.value) for r in readings if changes.wants(r, name)]


def co2(values: list[tuple[float, float | None]]) -> list[Reading]:
    return [
        Reading("b.r.co2", v, t, Quality.GOOD if v is not None else Quality.UNAVAILABLE)
        for t, v in values
    ]


def test_only_changes_are_written_and_a_flat_signal_gets_a_heartbeat() -> None:
    changes = ChangeFilter(heartbeat=300, deadband={})
    flat = co2([(0, 500), (30, 500), (60, 500), (299, 500), (300, 500), (330, 501), (630, 501)])
    assert written(changes, flat) == [(0, 500), (300, 500), (330, 501), (630, 501)]


def test_the_deadband_compares_with_the_last_value_written_so_drift_adds_up() -> None:
    changes = ChangeFilter(heartbeat=3600, deadband={"co2": 10})
    drift = co2([(0, 500), (1, 504), (2, 508), (3, 511), (4, 505), (5, 501)])
    assert written(changes, drift) == [(0, 500), (3, 511), (5, 501)]


def test_a_deadband_applies_only_to_its_own_quantity() -> None:
    changes = ChangeFilter(heartbeat=3600, deadband={"temperature": 1})
    assert written(changes, co2([(0, 500), (1, 500.5)])) == [(0, 500), (1, 500.5)]


def test_unavailable_and_back_are_always_written() -> None:
    changes = ChangeFilter(heartbeat=3600, deadband={"co2": 50})
    readings = co2([(0, 500), (1, None), (2, None), (3, 505)])
    assert written(changes, readings) == [(0, 500), (1, None), (3, 505)]


def test_on_off_values_are_written_on_every_change() -> None:
    changes = ChangeFilter(heartbeat=3600, deadband={"occupancy": 5})
    readings = [Reading("b.r.occupancy", v, t) for t, v in [(0, False), (1, False), (2, True)]]
    assert written(changes, readings) == [(0, False), (2, True)]


def test_each_point_has_its_own_memory() -> None:
    changes = ChangeFilter(heartbeat=3600, deadband={})
    assert changes.wants(Reading("b.r1.co2", 500, 0), "co2")
    assert changes.wants(Reading("b.r2.co2", 500, 0), "co2")
    assert not changes.wants(Reading("b.r1.co2", 500, 1), "co2")


def test_a_silent_actuator_is_repeated_until_its_device_goes_offline() -> None:
    changes = ChangeFilter(heartbeat=300, deadband={}, current_for={"b.r.lights": None})
    assert changes.wants(Reading("b.r.lights", True, 0), "lights")
    assert changes.due(299) == []
    assert changes.due(310) == [Reading("b.r.lights", True, 310)]
    assert changes.due(600) == []
    assert changes.due(4000) == [Reading("b.r.lights", True, 4000)]
    offline = Reading("b.r.lights", None, 4100, Quality.UNAVAILABLE)
    assert changes.wants(offline, "lights")
    assert changes.due(10_000) == []


def test_a_sensor_is_repeated_only_while_its_last_reading_is_fresh() -> None:
    changes = ChangeFilter(heartbeat=300, deadband={}, current_for={"b.r.co2": 600})
    changes.wants(Reading("b.r.co2", 500.0, 0), "co2")
    changes.wants(Reading("b.r.co2", 500.0, 200), "co2")  # same value: not written
    assert changes.due(300) == [Reading("b.r.co2", 500.0, 300)]
    assert changes.due(800) == [], "the last reading (at 200 s) is stale at 800 s"
    changes.wants(Reading("b.r.co2", 500.0, 900), "co2")  # back: written, heartbeats resume
    assert changes.due(1200) == [Reading("b.r.co2", 500.0, 1200)]


def test_a_point_written_since_gets_its_heartbeat_later_not_twice() -> None:
    changes = ChangeFilter(heartbeat=300, deadband={}, current_for={"b.r.co2": 10_000})
    changes.wants(Reading("b.r.co2", 500.0, 0), "co2")
    changes.wants(Reading("b.r.co2", 510.0, 200), "co2")
    assert changes.due(300) == []
    assert changes.due(500) == [Reading("b.r.co2", 510.0, 500)]
    assert changes.due(500) == []


def test_a_sensor_without_stale_after_is_never_repeated_by_the_clock() -> None:
    changes = ChangeFilter(heartbeat=300, deadband={}, current_for={})
    changes.wants(Reading("b.r.co2", 500.0, 0), "co2")
    assert changes.due(10_000) == []
