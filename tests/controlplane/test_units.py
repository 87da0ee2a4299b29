"""Pure parts of the control plane: recent minute values and events, event ids, requests,
override ends."""

from __future__ import annotations

import pytest

from campus.clock import parse_start
from controller.controlplane_payloads import event_id_prefix, event_message
from controller.controlplane_recent import MinuteSeries, Recent
from controller.controlplane_requests import (
    RequestError,
    check,
    envelope,
    override_until,
    override_value,
)
from controller.events import Audit

T = parse_start("2026-11-23 10:00", "Europe/Oslo")


def test_minute_series_keeps_the_last_reading_of_each_minute_for_an_hour() -> None:
    series = MinuteSeries(60)
    series.add(T, 400.0)
    series.add(T + 30, 410.0)
    series.add(T + 120, 500.0)
    window = series.window(T + 150)
    assert window[-3:] == [410.0, None, 500.0]
    assert len(window) == 60
    series.add(T + 3 * 3600, 600.0)
    assert series.window(T + 3 * 3600)[-1] == 600.0
    assert [v for v in series.window(T + 3 * 3600) if v is not None] == [600.0]
    assert series.window(T + 5 * 3600) == [None] * 60


def test_event_ids_name_the_shard_and_the_process_start() -> None:
    """Wall-clock milliseconds, not the controller's clock (a demo starts its clock at the same
    moment on every run), so ids differ across restarts."""
    started = 1_795_425_000_123_456_789
    assert event_id_prefix("", started) == f"{started // 1_000_000:x}-"
    assert event_id_prefix("b1", started) == f"b1:{started // 1_000_000:x}-"
    assert event_id_prefix("", started + 1_000_000) != event_id_prefix("", started)
    audit = event_message(Audit("alice", "reload-rules", "no change", T), "b1:abc-7")
    assert audit is not None
    assert audit.event_id == "b1:abc-7"


def test_recent_ring_of_events_and_unknown_points() -> None:
    recent = Recent(minutes=5, events=3)
    for i in range(5):
        recent.add_event({"n": i})
    assert recent.events(10) == [{"n": 2}, {"n": 3}, {"n": 4}]
    assert recent.events(1) == [{"n": 4}]
    assert recent.series("b1.r1.co2", T) == [None] * 5
    recent.add_reading("b1.r1.occupancy", T, True)
    recent.add_reading("b1.r1.occupancy", T + 60, None)
    assert recent.series("b1.r1.occupancy", T + 60)[-2:] == [1.0, None]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'"x"', "JSON object"),
        (b'{"transaction": [1]}', "transaction must be"),
        (b'{"transaction": true}', "transaction must be"),
        (b"x" * 70000, "too big"),
    ],
)
def test_envelopes_that_are_refused(payload: bytes, message: str) -> None:
    with pytest.raises(RequestError, match=message):
        envelope(payload)


def test_envelope_takes_the_transaction_out_and_empty_is_an_empty_object() -> None:
    assert envelope(b'{"a": 1, "transaction": 7}') == ({"a": 1}, 7)
    assert envelope(b"") == ({}, None)


def test_check_names_fields_and_the_user() -> None:
    assert check("explain", {"target": "x"}) == "explain"
    with pytest.raises(RequestError, match="unknown request 'explian'"):
        check("explian", {})
    with pytest.raises(RequestError, match="unknown field 'targt'"):
        check("explain", {"targt": "x"})
    with pytest.raises(RequestError, match="release needs 'actuator'"):
        check("release", {"user": "a"})
    with pytest.raises(RequestError, match='"user"'):
        check("release", {"actuator": "b1.r1.lights", "user": " "})


def test_override_values_and_ends() -> None:
    assert override_value("ON") is True
    assert override_value(False) is False
    assert override_value(40) == 40.0
    with pytest.raises(RequestError):
        override_value("half")
    assert override_until({"duration": "15m"}, T, "Europe/Oslo") == T + 900
    assert override_until({"duration": 60}, T, "Europe/Oslo") == T + 60
    assert override_until({"until": T + 5}, T, "Europe/Oslo") == T + 5
    midnight = parse_start("2026-11-24 00:00", "Europe/Oslo")
    assert override_until({"until": "end-of-day"}, T, "Europe/Oslo") == midnight
    four = parse_start("2026-11-23 16:00", "Europe/Oslo")
    assert override_until({"until": "2026-11-23 16:00"}, T, "Europe/Oslo") == four
    for bad in ({}, {"duration": "1h", "until": T}, {"duration": 0}, {"until": "soon"}):
        with pytest.raises(RequestError):
            override_until(bad, T, "Europe/Oslo")


def test_end_of_day_on_the_day_summer_time_ends() -> None:
    morning = parse_start("2026-10-25 01:00", "Europe/Oslo")  # before 03:00 -> 02:00
    midnight = parse_start("2026-10-26 00:00", "Europe/Oslo")
    assert override_until({"until": "end-of-day"}, morning, "Europe/Oslo") == midnight
    assert midnight - morning == 24 * 3600  # 23 hours on the clock, 24 real ones
