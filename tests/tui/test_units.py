"""Pure parts of the TUI: parsing the control plane, the event log's merge and filter, override
holds as typed, columns that fit the terminal, comfort bands, the worst-first order, rules that
only raise alarms, sparklines and on/off bands, and how values read."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from campus import wire
from campus.text import age_text, value_text
from campus.wire import Kind, parse_topic
from tests.tui.fixed_site import ALARMS, BASE, EVENTS, NOW, retained, rules_payload
from tui.bands import Band, band, urgency
from tui.eventfilter import matches, parse_filter
from tui.hold import HoldError, end_text, parse_hold
from tui.screens.rules import does_text, level_text
from tui.state import SiteState
from tui.widgets.columns import Column, fit
from tui.widgets.spark import bands, sparkline


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


def decoded(payloads: list[dict[str, Any]]) -> list[wire.Event]:
    events = [wire.decode_event(p) for p in payloads]
    assert None not in events
    return [e for e in events if e is not None]


def test_events_fetched_on_opening_merge_with_the_live_ones_each_once_in_time_order() -> None:
    """The events view fetches the controller's recent events when it opens; those it has seen
    live already were shown twice, the fetched ones first."""
    state = site()
    for payload in EVENTS[2:]:
        assert state.apply(f"{BASE}/events", payload) is Kind.EVENTS
    state.add_events(decoded(EVENTS[:4]))
    assert [e.event_id for e in state.events] == ["snap-1", "snap-2", "snap-3", "snap-4", "snap-5"]
    assert state.apply(f"{BASE}/events", EVENTS[3]) is None, "a late live copy"
    assert len(state.events) == 5
    older = site()  # a controller from before event ids: the same JSON is the same event
    anonymous = [{k: v for k, v in e.items() if k != "event_id"} for e in EVENTS]
    older.apply(f"{BASE}/events", anonymous[4])
    older.add_events(decoded(anonymous))
    assert [e.ts for e in older.events] == [e["ts"] for e in EVENTS]


def test_the_event_filter_looks_at_fields_not_the_rendered_text() -> None:
    default = {"type": "command", "event_id": "snap-6", "ts": NOW, "room": "main.r103",
               "actuator": "main.r103.lights", "name": "lights", "value": False,
               "source": "default", "slot": 17,
               "reason": "relinquish default (slot 17): no rule or override holds "
                         "main.r103.lights"}  # fmt: skip
    events = decoded([*EVENTS, default])

    def found(text: str) -> list[str]:
        return [e.event_id for e in events if matches(parse_filter(text), e)]

    assert found("override") == ["snap-3", "snap-4"], "not the default's reason"
    assert found("type:audit who:alice") == ["snap-3"]
    assert found("alice") == ["snap-3", "snap-4"]
    assert found("reason:override") == ["snap-4", "snap-6"]
    assert found("type:cmd r10") == ["snap-4", "snap-6"]
    assert found("rule:ventilate") == ["snap-5"], "a command's rule is in its source"
    assert found("state:active") == ["snap-1", "snap-2"]
    assert found("OVERRIDE:ALICE") == ["snap-4"], "not a field's name: a plain word"
    assert found("  ") == [e.event_id for e in events]


def test_topics() -> None:
    topic = parse_topic("campusctl/demo/room/main/r101")
    assert topic is not None
    assert (topic.site, topic.kind, topic.rest) == ("demo", Kind.ROOM, "main/r101")
    assert parse_topic("zigbee2mqtt/x") is None
    assert parse_topic("campusctl/demo/nonsense") is None


OSLO = "Europe/Oslo"


@pytest.mark.parametrize(
    ("typed", "fields", "ends"),
    [
        ("30m", {"duration": 1800.0}, "ends 11:00 today (in 30m)"),
        ("for 1h30m", {"duration": 5400.0}, "ends 12:00 today (in 1h30m)"),
        ("  2H ", {"duration": 7200.0}, "ends 12:30 today (in 2h00m)"),
        ("until 14:00", {"until": "2026-11-23 14:00"}, "ends 14:00 today (in 3h30m)"),
        ("10:00", {"until": "2026-11-24 10:00"}, "ends 10:00 tomorrow (in 23h30m)"),
        ("until 2026-11-25 08:00", {"until": "2026-11-25 08:00"},
         "ends 08:00 Wed 25 Nov (in 1d21h)"),
        ("end of day", {"until": "end-of-day"}, "ends 00:00 tomorrow (in 13h30m)"),
        ("until eod", {"until": "end-of-day"}, "ends 00:00 tomorrow (in 13h30m)"),
    ],
)  # fmt: skip
def test_an_override_holds_for_any_length_typed(
    typed: str, fields: dict[str, Any], ends: str
) -> None:
    """On the controller's clock (Monday 10:30) in the site's zone; ``until 14:00`` is sent as
    the site's local date and time, which the controller reads in the same zone."""
    hold = parse_hold(typed, NOW, OSLO)
    assert hold.fields == fields
    assert end_text(hold.end, NOW, OSLO) == ends


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "say how long: 30m, 2h, until 14:00 or end of day"),
        ("45", "45 what? write 45m or 45h"),
        ("0m", "an override must hold for more than 0 s"),
        ("soon", "'soon' is no duration (30m, 2h, 1h30m) or end (until 14:00, end of day)"),
        ("until 25:00", "25:00 is no time of day: write HH:MM, like 14:00"),
        ("until 2026-11-23 09:00", "2026-11-23 09:00 has passed on the controller's clock"),
        ("until lunch", "until 'lunch': write until 14:00 or until 2026-11-24 08:00"),
    ],
)
def test_a_hold_that_is_none_says_what_to_write(typed: str, problem: str) -> None:
    with pytest.raises(HoldError) as caught:
        parse_hold(typed, NOW, OSLO)
    assert str(caught.value) == problem


def test_the_end_of_the_day_is_local_midnight_when_the_clocks_change() -> None:
    sunday = datetime(2026, 10, 25, tzinfo=ZoneInfo(OSLO)).timestamp()  # summer time ends
    assert parse_hold("end of day", sunday, OSLO).end - sunday == 25 * 3600


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


def test_columns_fit_the_terminal_and_wider_ones_show_more() -> None:
    """Cells were cut at every width (fixed widths); the growing columns take what a wider
    terminal adds, up to their most, and wide-only columns appear from their width on."""
    columns = [
        Column("Room", 15, grow=1, most=20),
        Column("Name", 14, grow=1, wide=120, most=24),
        Column("Kind", 9),
        Column("Status", 12, grow=2),
    ]

    def widths(width: int) -> dict[str, int]:
        return {column.label: size for column, size in fit(columns, width)}

    assert widths(30) == {"Room": 15, "Kind": 9, "Status": 12}, "never less than declared"
    assert widths(50) == {"Room": 17, "Kind": 9, "Status": 16}
    assert widths(160) == {"Room": 20, "Name": 24, "Kind": 9, "Status": 97}
    for width in (50, 80, 119, 120, 160, 250):  # every column, its padding and the scrollbar
        assert sum(size + 2 for size in widths(width).values()) + 2 == width


def test_a_rule_that_only_raises_an_alarm_has_no_comfort_level() -> None:
    rules = {r.id: r for r in wire.decode(wire.RulesMessage, rules_payload()).rules}
    alarm = rules["co2-alarm"]
    assert (alarm.level, alarm.sets, alarm.alarm) == ("comfort", [], "warning")
    assert level_text(alarm).plain == "alarm"
    assert does_text(alarm) == "raises a warning alarm"
    lights = rules["lights-on-when-occupied-and-dark"]
    assert level_text(lights).plain == "comfort"
    assert does_text(lights) == "sets lights"


def test_on_off_points_are_drawn_as_bands() -> None:
    """A sparkline scales an hour of "occupied" and an hour of "empty" to the same middle bar."""
    assert sparkline([1.0, 1.0], 2) == sparkline([0.0, 0.0], 2) == "▅▅"
    assert bands([1.0, 1.0], 2) == "██"
    assert bands([0.0, 0.0], 2) == "▁▁"
    assert bands([None, 1.0, None, 0.0, 0.0], 5) == " ██▁▁"
    assert bands([1.0, 0.0, 1.0], 2) == "▁█"
    assert bands([], 4) == ""


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
