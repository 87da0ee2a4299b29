"""`rules replay` on a real UCI Occupancy trace excerpt, and the other trace shapes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from campus.config import load_campus
from campus.model import Campus
from campus.problems import CampusError
from campus.types import Quality
from controller.cli import main
from rules.loader import load_rules
from rules.replay import read_trace, replay
from tests.conftest import EXAMPLES, ROOT

Write = Callable[[str, str], Path]
UCI = ROOT / "tests" / "data" / "uci-occupancy" / "datatest-excerpt.txt"


def test_the_uci_trace_drives_the_example_rules() -> None:
    campus = load_campus(EXAMPLES / "campus.yaml")
    ruleset = load_rules([EXAMPLES / "rules"], campus)
    trace = read_trace(UCI, campus, "main.r101")
    assert trace.columns == {
        "Temperature": "main.r101.temperature",
        "Humidity": "main.r101.humidity",
        "Light": "main.r101.illuminance",
        "CO2": "main.r101.co2",
        "Occupancy": "main.r101.occupancy",
    }
    assert trace.ignored == ["HumidityRatio"]
    assert len(trace.readings) == 399 * 5
    first = trace.readings[0]
    assert (first.point, first.value) == ("main.r101.temperature", 23.7)
    result = replay(ruleset.rules, campus, trace)
    vent = result.totals["main.r101.ventilation"]
    assert vent.commands > 5
    # the office is occupied 14:19-~17:50 in this excerpt, then empty: ventilation follows
    assert result.occupied_seconds is not None
    assert 3 * 3600 < result.occupied_seconds < 4 * 3600
    assert 0 < vent.on_seconds < result.end - result.start
    assert result.transitions["ventilate-in-proportion"] >= 1
    last = [c for c in result.commands if c.actuator == "main.r101.ventilation"][-1]
    assert (last.value, last.source) == (0.0, "default")
    assert all(c.reason for c in result.commands)


def test_replay_command_prints_commands_and_totals(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["rules", "replay", str(EXAMPLES / "rules"), "--trace", str(UCI)])
    out = capsys.readouterr().out
    assert code == 0
    assert "main.r101.ventilation -> " in out
    assert "(rule ventilate-in-proportion (energy, slot 12) active since 14:19" in out
    assert "main.r101.lights: " in out
    assert "occupied per the trace: 3." in out


def test_long_and_wide_traces(campus: Campus, write: Write) -> None:
    long = write(
        "long.csv",
        "ts,point,value\n2026-11-23 08:00,occupancy,1\n2026-11-23 08:00,co2,900\n"
        "2026-11-23 08:05,b1.outdoor.temperature,-3\n2026-11-23 08:06,co2,unknown\n",
    )
    trace = read_trace(long, campus, "b1.r101")
    assert [(r.point, r.value, r.quality) for r in trace.readings] == [
        ("b1.r101.occupancy", True, Quality.GOOD),
        ("b1.r101.co2", 900.0, Quality.GOOD),
        ("b1.outdoor.temperature", -3.0, Quality.GOOD),
        ("b1.r101.co2", None, Quality.UNAVAILABLE),
    ]
    wide = write("wide.csv", "time,CO2,occupancy,noise\n1795000000,800,0,3\n1795000060,,1,4\n")
    trace = read_trace(wide, campus, "b1.r102")
    assert trace.ignored == ["noise"]
    assert [(r.point, r.value, r.ts) for r in trace.readings] == [
        ("b1.r102.co2", 800.0, 1795000000.0),
        ("b1.r102.occupancy", False, 1795000000.0),
        ("b1.r102.occupancy", True, 1795000060.0),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n", "no time column"),
        ("time,co2\nyesterday,3\n", ":2: time 'yesterday' is neither POSIX seconds"),
        ("time,occupancy\n1,maybe\n", ":2: b1.r101.occupancy is on/off, not 'maybe'"),
        ("time,speed\n1,2\n", "no column names a point of b1.r101"),
    ],
)
def test_bad_traces_say_where(campus: Campus, write: Write, text: str, message: str) -> None:
    with pytest.raises(CampusError, match=message):
        read_trace(write("t.csv", text), campus, "b1.r101")


def test_replay_counts_read_in_the_singular(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write(
        "r.yaml",
        'rules:\n  - id: lights-on\n    rooms: id == "main.r101"\n    when: occupancy\n'
        "    set:\n      lights: on\n",
    )
    trace = write(
        "t.csv",
        "ts,point,value\n2026-11-23 08:00,occupancy,false\n2026-11-23 08:10,occupancy,true\n"
        "2026-11-23 08:30,occupancy,false\n",
    )
    config = EXAMPLES / "campus.yaml"
    assert (
        main(["rules", "replay", str(rules), "--trace", str(trace), "--config", str(config)]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert f"trace {trace}: 3 readings (occupancy -> main.r101.occupancy)" in out
    assert "  main.r101.ventilation: 1 command, on 0.0 h (0%), mean 0.0 %" in out
    assert "  rule lights-on: activated once" in out


def test_an_unknown_room_is_named_with_the_rooms_the_rules_cover(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It was taken for a room without points: 'no column names a point of main.r1O1'."""
    code = main(
        ["rules", "replay", str(EXAMPLES / "rules"), "--trace", str(UCI), "--room", "main.r1O1"]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        f"campusctl: --room 'main.r1O1': no such room in {EXAMPLES / 'campus.yaml'} (did you mean "
        "'main.r101'?); the rules cover 10 rooms: main.r101, main.r102, main.r103, main.r104, "
        "main.r105, main.hall1, science.lab1, science.r201, science.r202, library.corner1\n"
    )
