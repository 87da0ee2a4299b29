"""bench/scale.py with a small campus on a real Mosquitto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.scale import main


@pytest.mark.mqtt
def test_scale_reports_startup_memory_and_cpu(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    assert (
        main(
            [
                "--rooms",
                "100",
                "--seconds",
                "4",
                "--idle",
                "1",
                "--warmup",
                "12",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    figures = json.loads(out.read_text())["scale"]
    assert figures["rooms"] == 100
    assert 0 < figures["startup_s"] < figures["first_command_s"]
    assert 0 < figures["startup_cpu_s"] < 600
    assert figures["idle_rss_mb"] > 10
    assert 0 <= figures["idle_cpu_pct"] < 100
    assert figures["sensor_messages_per_s"] > 0
    assert 0 < figures["load_cpu_pct"] < 200
