"""bench/soak.py for one simulated minute on a real Mosquitto: it runs and reports every key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.soak import main, slope


@pytest.mark.mqtt
def test_soak_reports_memory_and_queues(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    code = main(["--minutes", "1", "--rooms", "20", "--speed", "10", "--json", str(out)])
    figures = json.loads(out.read_text())["soak"]
    assert code == (0 if figures["pass"] else 1)
    assert figures["rooms"] == 20
    assert figures["readings"] > 0, "the simulator's readings must reach the controller"
    assert figures["samples"] >= 3
    series = figures["series"]
    for name in ("rss_mb", "mqtt_readings", "controller_inbox", "mqtt_outbox", "mqtt_held"):
        assert set(series[name]) == {"first", "last", "max", "slope_per_min", "second_half_growth"}
    assert series["rss_mb"]["first"] > 10
    assert len(figures["verdict"]) == len(series)


def test_slope_is_least_squares() -> None:
    assert slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert slope([0, 1, 2], [4, 4, 4]) == 0.0
    assert slope([1], [5]) == 0.0
