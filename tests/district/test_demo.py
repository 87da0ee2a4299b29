"""`campusctl demo --district N` and the district's picture of its schools (tui.district)."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from campus import wire
from controller import district_demo
from controller.cli import main
from tests.campus.test_wire import controller
from tui.district import DistrictState, portfolio_table


@pytest.mark.mqtt
@pytest.mark.district
def test_the_district_demo_shows_every_school_linked_and_online(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["demo", "--district", "2", "--headless", "--duration", "12",
         "--start", "2026-11-23 08:20"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│")}
    assert set(rows) >= {"North School", "South School"}, out
    for name in ("North School", "South School"):
        cells = [c.strip() for c in rows[name].split("│")]
        assert cells[2:4] == ["up", "online"], rows[name]
        assert int(cells[5]) > 0, f"{name}: no room in use during a lesson"


def test_without_mosquitto_the_district_demo_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(district_demo, "mosquitto_binary", lambda: None)
    assert main(["demo", "--district", "2", "--headless", "--duration", "1"]) == 2
    assert "the embedded broker cannot" in capsys.readouterr().err


def kpi(site: str, shard: str, good: int, minutes: int) -> dict[str, object]:
    message = wire.KpiMessage(
        site=site, shard=shard, ts=60.0, day="2026-11-23", rooms=10, area_m2=600.0,
        rooms_in_use=4, occupied_minutes=minutes, co2_minutes=minutes,
        co2_within_1000_minutes=good, co2_within_1400_minutes=minutes,
        co2_within_1000=wire.share(good, minutes), co2_within_1400=1.0, worst_room=None,
        worst_co2=None, temperature_minutes=0, temperature_comfort_minutes=0,
        temperature_comfort=None, alarms={}, alarms_unacknowledged=0, overrides=0,
        overrides_over_4h=0, lights_kwh=1.0, ventilation_kwh=0.5, outside_timetable_kwh=0.0,
        lights_kwh_last_week=None, ventilation_kwh_last_week=None, uptime_s=60.0,
    )  # fmt: skip
    return json.loads(wire.encode(message))  # type: ignore[no-any-return]


def test_the_portfolio_merges_shards_and_puts_the_worst_school_first() -> None:
    now = [100.0]
    state = DistrictState(monotonic=lambda: now[0])
    for site in ("north", "south"):
        state.apply(f"campusctl/{site}/bridge", "1")
        state.apply(f"campusctl/{site}/status", "online")
        state.apply(f"campusctl/{site}/controller", json.loads(wire.encode(controller("", 10, 0))))
    state.apply("campusctl/north/kpi", kpi("north", "", 60, 60))
    state.apply("campusctl/south/kpi/b1", kpi("south", "b1", 30, 60))
    state.apply("campusctl/south/kpi/b2", kpi("south", "b2", 60, 60))
    south = state.schools["south"].kpi
    assert south is not None
    assert (south.rooms, south.co2_within_1000) == (20, 0.75)
    state.apply("campusctl/south/bridge", "0")
    now[0] = 130.0
    state.apply("campusctl/north/status", "offline")
    console = Console(width=200, record=True)
    console.print(portfolio_table(state))
    text = console.export_text()
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert len(rows) == 2
    assert "75%" in rows[0], "the worst compliance first"
    assert "DOWN 30s" in rows[0]
    assert "OFFLINE (last" in rows[1]
    assert state.apply("zigbee2mqtt/x", "1") is None
