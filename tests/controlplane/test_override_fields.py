"""The override request's time of day (``until: "14:00"``) and its ``reason``: pure parts."""

from __future__ import annotations

import pytest

from campus.clock import parse_start
from campus.problems import CampusError
from controller.controlplane_requests import RequestError, check, override_until
from controller.staff import MAX_REASON, check_reason

TZ = "Europe/Oslo"
T = parse_start("2026-11-23 10:00", TZ)


def test_a_time_of_day_is_the_next_one_on_the_controllers_clock() -> None:
    assert override_until({"until": "14:00"}, T, TZ) == parse_start("2026-11-23 14:00", TZ)
    assert override_until({"until": "9:30"}, T, TZ) == parse_start("2026-11-24 09:30", TZ)
    assert override_until({"until": "10:00"}, T, TZ) == parse_start("2026-11-24 10:00", TZ)
    with pytest.raises(RequestError, match="'24:00' is not a time of day: give HH:MM"):
        override_until({"until": "24:00"}, T, TZ)


def test_a_time_of_day_across_the_end_of_summer_time() -> None:
    evening = parse_start("2026-10-24 22:00", TZ)  # the clocks go back at 03:00 on the 25th
    assert override_until({"until": "08:00"}, evening, TZ) == evening + 11 * 3600


def test_the_reason_is_an_optional_field_of_one_line() -> None:
    body = {"actuator": "b1.r1.lights", "value": "on", "duration": "1h", "user": "a"}
    assert check("override", body) == "override"
    assert check("override", {**body, "reason": "exam"}) == "override"
    assert check_reason("  exam in r101 ") == "exam in r101"
    assert check_reason("") == ""
    for bad, message in (
        (3, "reason must be text"),
        ("a\nb", "one line of printable text"),
        ("x" * (MAX_REASON + 1), f"keep it to {MAX_REASON}"),
    ):
        with pytest.raises(CampusError, match=message):
            check_reason(bad)
