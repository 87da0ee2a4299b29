"""bench/district.py with two small schools bridged to a district broker."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bench.district import main


@pytest.mark.mqtt
@pytest.mark.district
def test_district_bench_reports_rates_and_alarm_latency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "district.json"
    argv = ["district", "--schools", "2", "--rooms", "5", "--seconds", "12", "--alarms", "4",
            "--workers", "1", "--json", str(out)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    assert main() == 0
    figures = json.loads(out.read_text())
    assert figures["schools_seen"] == 2
    assert figures["alarms_sent"] == figures["alarms_seen"] == 4
    assert 0 < figures["alarm_p50_ms"] <= figures["alarm_p99_ms"] < 5000
    assert figures["district_messages_per_s"] > 0
    assert figures["reader_rss_mb"] > 10
