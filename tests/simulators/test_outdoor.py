"""Sun position and the IES sky model (docs/domain.md §3 Daylight)."""

from __future__ import annotations

import pytest

from campus.clock import parse_start
from campus.model import Site
from simulators.outdoor import Weather, sky_illuminance, sun_position

OSLO = Site(id="oslo", name="Oslo", timezone="Europe/Oslo", latitude=59.91, longitude=10.75)


def at(text: str) -> float:
    return parse_start(text, OSLO.timezone)


def test_sun_at_midsummer_and_winter_noon() -> None:
    altitude, azimuth = sun_position(at("2026-06-21 13:17"), OSLO.latitude, OSLO.longitude)
    assert altitude == pytest.approx(90.0 - 59.91 + 23.44, abs=0.5)
    assert azimuth == pytest.approx(180.0, abs=3.0)
    altitude, _ = sun_position(at("2026-11-23 12:00"), OSLO.latitude, OSLO.longitude)
    assert altitude == pytest.approx(9.9, abs=0.5)


def test_sun_rises_in_the_east_and_sets_in_the_west() -> None:
    _, morning = sun_position(at("2026-06-21 06:00"), OSLO.latitude, OSLO.longitude)
    _, evening = sun_position(at("2026-06-21 20:00"), OSLO.latitude, OSLO.longitude)
    assert 45.0 < morning < 135.0
    assert 225.0 < evening < 315.0


def test_daylight_is_zero_at_night() -> None:
    weather = Weather(OSLO, seed=1)
    assert weather.at(at("2026-11-23 03:00")).illuminance == 0.0
    assert weather.at(at("2026-06-21 01:00")).illuminance == 0.0


def test_daylight_is_plausible_at_noon() -> None:
    """IES 1984: overcast 0.3 + 21 sin α klx; clear with sun reaches ~100 klx in summer."""
    assert 2_000 < sky_illuminance(9.9, cloud=1.0) < 6_000
    assert 8_000 < sky_illuminance(9.9, cloud=0.0) < 20_000
    assert 80_000 < sky_illuminance(53.5, cloud=0.0) < 120_000
    assert 15_000 < sky_illuminance(53.5, cloud=1.0) < 20_000
    noon = Weather(OSLO, seed=1).at(at("2026-11-23 12:00"))
    assert 3_000 < noon.illuminance < 20_000


def test_weather_is_deterministic_per_seed() -> None:
    t = at("2026-11-23 10:30")
    assert Weather(OSLO, 7).at(t) == Weather(OSLO, 7).at(t)
    clouds = {round(Weather(OSLO, seed).at(t).cloud, 6) for seed in range(5)}
    assert len(clouds) > 1


def test_outdoor_temperature_follows_the_seasons() -> None:
    weather = Weather(OSLO, 3)
    winter = [weather.at(at(f"2026-01-{d:02d} 12:00")).temperature for d in range(10, 20)]
    summer = [weather.at(at(f"2026-07-{d:02d} 12:00")).temperature for d in range(10, 20)]
    assert sum(summer) / 10 > sum(winter) / 10 + 10.0
