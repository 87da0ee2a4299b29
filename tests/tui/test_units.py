"""Pure parts of the TUI: parsing the control plane, comfort bands, the worst-first order,
sparklines and how values read."""

from __future__ import annotations

import pytest

from campus.text import age_text, value_text
from campus.wire import Kind, parse_topic
from tests.tui.fixed_site import ALARMS, BASE, NOW, retained
from tui.bands import Band, band, urgency
from tui.state import SiteState
from tui.widgets.spark import sparkline


def site() -> SiteState:
    state = SiteState("snapshot", monotonic=lambda: 100.0)
    for topic, payload in retained().items():
        state.apply(topic, payload)
    return state


def test_the_retained_topics_rebuild_the_site() -> None:
    state = site()
    assert state.online is True
    assert len(state.rooms) == 10
    assert state.buildings == {"main": "Main building", "science": "Science wing",
                               "library": "Library"}  # fmt: skip
    r102 = state.room_states["main.r102"]
    lights = r102.actuators["lights"]
    assert lights.winner is not None
    assert lights.winner.source == "override:alice"
    assert r102.points["co2"].value == 760
    assert [a.id for a in state.alarms] == [a["id"] for a in ALARMS]
    assert state.now() == NOW
    assert state.apply("campusctl/other/alarms", {"alarms": []}) is None
    assert state.apply(f"{BASE}/rooms", {}) is None
    assert state.apply(f"{BASE}/alarms", ["not", "an", "object"]) is None


def test_a_newer_controller_with_odd_fields_does_not_break_the_parse() -> None:
    state = SiteState("s")
    kind = state.apply("campusctl/s/room/b/r", {"room": "b.r", "points": {"co2": "x"},
                                                "actuators": [], "rules": None})  # fmt: skip
    assert kind is Kind.ROOM
    assert state.room_states["b.r"].points == {}


def test_topics() -> None:
    topic = parse_topic("campusctl/demo/room/main/r101")
    assert topic is not None
    assert (topic.site, topic.kind, topic.rest) == ("demo", Kind.ROOM, "main/r101")
    assert parse_topic("zigbee2mqtt/x") is None
    assert parse_topic("campusctl/demo/nonsense") is None


@pytest.mark.parametrize(
    ("point", "value", "occupied", "expected"),
    [
        ("co2", 650, None, Band.GOOD),
        ("co2", 950, None, Band.FAIR),
        ("co2", 1200, None, Band.POOR),
        ("co2", 1800, None, Band.BAD),
        ("temperature", 22, None, Band.GOOD),
        ("temperature", 29, None, Band.BAD),
        ("illuminance", 120, False, Band.NONE),
        ("illuminance", 120, True, Band.POOR),
        ("illuminance", 450, True, Band.GOOD),
        ("humidity", 22, None, Band.POOR),
        ("occupancy", True, None, Band.NONE),
    ],
)
def test_bands(point: str, value: float, occupied: bool | None, expected: Band) -> None:
    assert band(point, value, occupied) is expected


def test_worst_first_puts_alarms_then_offline_then_stale_then_co2() -> None:
    state = site()
    order = sorted(
        state.rooms.values(),
        key=lambda r: urgency(r, state.room_states.get(r.id), state.alarms_in(r.id)),
    )
    ids = [r.id for r in order]
    assert ids[:2] == ["main.r104", "main.r101"]  # an unacknowledged alarm, then an old one
    assert ids[2] == "science.r202"  # an offline light
    assert ids[3] == "main.r105"  # a stale sensor
    assert ids[4] == "science.r201"  # the highest CO2 of the rest


def test_sparkline_and_texts() -> None:
    assert sparkline([None, 1.0, None, 3.0], 4) == " ▁▁█"
    assert sparkline([5.0, 5.0], 3) == "▅▅"
    assert sparkline([], 5) == ""
    assert value_text(True, kind="occupancy") == "yes"
    assert value_text(False) == "off"
    assert value_text(21.44, "°C") == "21.4 °C"
    assert value_text(1104.0, "ppm") == "1104 ppm"
    assert value_text(None) == "-"
    assert [age_text(s) for s in (5, 125, 7300, 90000, None)] == ["5s", "2m", "2h", "1d", "never"]
