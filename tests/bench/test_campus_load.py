"""bench/campus_load with tiny parameters on a real Mosquitto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.campus_load import nodered
from bench.campus_load.__main__ import main
from bench.campus_load.workload import OFF, ON, Workload, campus_yaml
from campus.config import load_campus

KEYS = {"max_rate", "us_per_reading", "p50_ms_at_1k", "p99_ms_at_1k", "cpu_pct", "rss_mb"}


def test_the_oracle_applies_hysteresis_and_the_light_rule() -> None:
    work = Workload(rooms=1, seed=3)
    room = work.rooms[0]
    fan = light = False
    commands = 0
    for _ in range(3000):
        _, expected = work.next_reading()
        co2, lux, occupied = room.co2, room.lux, room.occupancy
        want_fan = True if co2 > 1000 else False if co2 < 800 else fan
        want_light = occupied and lux < 300
        wanted = []
        if want_fan != fan:
            wanted.append((room.fan_topic, ON if want_fan else OFF))
        if want_light != light:
            wanted.append((room.light_topic, ON if want_light else OFF))
        assert [(e.topic, e.payload) for e in expected] == wanted
        fan, light = want_fan, want_light
        commands += len(wanted)
    assert 100 < commands < 1000, "about one reading in twelve should cause a command"


def test_the_load_campus_loads(tmp_path: Path) -> None:
    path = tmp_path / "campus.yaml"
    path.write_text(campus_yaml(12))
    campus = load_campus(path)
    assert len(campus.rooms) == 13  # and the probe room


@pytest.mark.mqtt
def test_engines_report_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    argv = [
        "--rooms",
        "20",
        "--seconds",
        "1",
        "--hold",
        "1",
        "--max-rate",
        "2000",
        "--engines",
        "ceiling,script,campusctl",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    engines = json.loads(out.read_text())["engines"]
    assert set(engines) == {"ceiling", "script", "campusctl"}
    for name, figures in engines.items():
        assert set(figures) == KEYS, name
        assert figures["max_rate"] >= 900, (name, figures)
        assert figures["us_per_reading"] > 0
        assert figures["rss_mb"] > 5
        assert 0 < figures["cpu_pct"] < 200
    for name in ("script", "campusctl"):
        assert 0 < engines[name]["p50_ms_at_1k"] <= engines[name]["p99_ms_at_1k"] < 1000
    assert engines["ceiling"]["p99_ms_at_1k"] is None


@pytest.mark.mqtt
def test_nodered(tmp_path: Path) -> None:
    if not nodered.installed():
        pytest.skip(
            f"Node-RED is not in {nodered.FOLDER}: `python -m bench.campus_load --engines "
            "nodered` installs it with npm (kept out of the default run: no downloads in CI)"
        )
    out = tmp_path / "load.json"
    argv = [
        "--rooms",
        "20",
        "--seconds",
        "1",
        "--hold",
        "1",
        "--max-rate",
        "2000",
        "--engines",
        "nodered",
        "--no-install",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    figures = json.loads(out.read_text())["engines"]["nodered"]
    assert figures["max_rate"] >= 900
    assert 0 < figures["p99_ms_at_1k"] < 1000
