"""bench/district.py with two small schools bridged to a district broker, and the district
view in a pseudo-terminal."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bench.district import main


@pytest.mark.mqtt
@pytest.mark.district
def test_district_bench_reports_the_district_view_and_alarm_latency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "district.json"
    argv = ["district", "--schools", "2", "--rooms", "5", "--seconds", "12", "--alarms", "4",
            "--workers", "1", "--keys", "3", "--json", str(out)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    assert main() == 0
    figures = json.loads(out.read_text())
    assert figures["schools_seen"] == 2
    assert figures["alarms_sent"] == figures["alarms_seen"] == figures["alarms_in_view"] == 4
    assert 0 < figures["alarm_p50_ms"] <= figures["alarm_p99_ms"] < 5000
    assert figures["alarm_p50_ms"] < figures["alarm_view_p50_ms"] < 5000
    assert figures["keys_pressed"] == figures["keys_redrawn"] == 3
    assert 0 < figures["key_redraw_p50_ms"] <= figures["key_redraw_max_ms"] < 5000
    assert figures["district_messages_per_s"] >= figures["district_view_messages_per_s"] > 0
    assert figures["tui_rss_mb"] > 10
