"""bench/control_quality.py with tiny parameters: the JSON has the issue's keys, sane values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import control_quality

KEYS = {"lighting_kwh", "fan_kwh", "co2_ok_pct", "longest_over_1500_min", "lux_ok_pct", "switches"}


def test_three_strategies_in_one_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, plot = tmp_path / "cq.json", tmp_path / "cq.png"
    argv = ["--rooms", "3", "--days", "0.7", "--jobs", "1", "--json", str(out), "--plot", str(plot)]
    assert control_quality.main(argv) == 0
    figures = json.loads(out.read_text())
    strategies = figures["strategies"]
    assert set(strategies) == {"baseline", "rules", "naive"}
    for name, values in strategies.items():
        assert set(values) == KEYS, name
        assert 0 <= values["co2_ok_pct"] <= 100
        assert 0 <= values["lux_ok_pct"] <= 100
        assert values["lighting_kwh"] >= 0
        assert values["fan_kwh"] >= 0
        assert values["longest_over_1500_min"] >= 0
    base, rules, naive = strategies["baseline"], strategies["rules"], strategies["naive"]
    # Monday 00:00 to 16:48: the schedule lights and airs every classroom 07:00-16:48.
    assert base["lighting_kwh"] > rules["lighting_kwh"] > 0
    assert base["fan_kwh"] > rules["fan_kwh"] > 0
    assert base["lux_ok_pct"] == 100
    assert naive["switches"] > rules["switches"], "no hysteresis should mean more switching"
    assert figures["machine"]["nproc"] >= 1
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "baseline" in printed
    assert "lighting vs baseline" in printed


def test_naive_rules_drop_hold_times_and_hysteresis(tmp_path: Path) -> None:
    files = control_quality.naive_rules(control_quality.EXAMPLES / "rules", tmp_path)
    text = "\n".join(f.read_text() for f in files)
    assert "ventilate-stuffy-classrooms" in text
    assert "until" not in text
    assert "for:" not in text
