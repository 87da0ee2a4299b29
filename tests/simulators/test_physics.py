"""Room physics against docs/domain.md §3's worked check, and exact integration."""

from __future__ import annotations

import dataclasses

import pytest

from simulators.outdoor import Outdoor
from simulators.physics import (
    Activity,
    Age,
    Drive,
    Occupants,
    RoomParams,
    RoomPhysics,
    co2_generation,
    illuminance,
)
from tests.simulators.factory import make_room

CLASS = Occupants(25, 1, Activity.SEATED, Activity.ACTIVE)
"""domain.md's worked check: 25 children and a teacher."""


def night(temperature: float = 0.0) -> Outdoor:
    return Outdoor(
        t=0.0,
        sun_altitude=-30.0,
        sun_azimuth=0.0,
        cloud=1.0,
        illuminance=0.0,
        temperature=temperature,
        humidity=80.0,
        vapour=3.9,
    )


def classroom(airflow: float | None = None) -> RoomPhysics:
    """A 60 m² × 3 m = 180 m³ classroom at 20 °C and outdoor CO2; `airflow` fixes total Q."""
    params = RoomParams.for_room(make_room("r101", area=60.0))
    if airflow is not None:
        params = dataclasses.replace(params, infiltration=airflow, design_airflow=0.0)
    return RoomPhysics(params, co2=420.0, temperature=20.0, vapour=5.0)


def test_worked_check_generation() -> None:
    g = 25 * co2_generation(Age.CHILD, Activity.SEATED, 20.0)
    g += co2_generation(Age.ADULT, Activity.ACTIVE, 20.0)
    assert g == pytest.approx(0.098, rel=0.03)


def test_rise_with_ventilation_off_is_about_33_ppm_per_minute() -> None:
    room = classroom()
    assert room.params.volume == pytest.approx(180.0)
    room.advance(60.0, CLASS, night(20.0), Drive(setpoint=20.0))
    assert room.co2 - 420.0 == pytest.approx(33.0, rel=0.05)


def test_169_lps_holds_about_1000_ppm() -> None:
    room = classroom(airflow=169.0)
    room.advance(36000.0, CLASS, night(20.0), Drive(setpoint=20.0))
    assert room.co2 == pytest.approx(1000.0, rel=0.02)


@pytest.mark.parametrize(("airflow", "expected"), [(25.0, 1750.0), (26 * 8.0, 875.0)])
def test_after_a_50_minute_lesson(airflow: float, expected: float) -> None:
    """0.5 ACH → ~1750 ppm; 8 L/s per person → ~875 ppm (domain.md, matches BB101)."""
    room = classroom(airflow=airflow)
    room.advance(3000.0, CLASS, night(20.0), Drive(setpoint=20.0))
    assert room.co2 == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize(
    ("kind", "people"),
    [
        ("classroom", Occupants(29, 1, Activity.SEATED, Activity.ACTIVE)),
        ("lab", Occupants(29, 1, Activity.ACTIVE, Activity.ACTIVE)),
        ("library", Occupants(30, 0, Activity.READING)),
        ("meeting", Occupants(0, 30, Activity.SEATED, Activity.SEATED)),
    ],
)
def test_full_room_stays_below_1000_ppm_at_full_fan(kind: str, people: Occupants) -> None:
    params = RoomParams.for_room(make_room("r1", kind=kind, capacity=30, area=60.0))
    room = RoomPhysics(params, co2=420.0, temperature=21.0, vapour=5.0)
    room.advance(36000.0, people, night(), Drive(ventilation=1.0))
    assert 800.0 < room.co2 < 1000.0


def test_one_large_step_equals_many_small_ones() -> None:
    """Each balance is exact over a step; only their coupling (G's T/273 factor, heat from
    people and lamps) is frozen within one, hence the looser bound on CO2."""
    one, many = classroom(), classroom()
    drive = Drive(ventilation=0.3, lights=1.0, setpoint=21.0)
    one.advance(3600.0, CLASS, night(-5.0), drive)
    for _ in range(360):
        many.advance(10.0, CLASS, night(-5.0), drive)
    assert one.co2 == pytest.approx(many.co2, rel=5e-3)
    assert one.temperature == pytest.approx(many.temperature, abs=1e-6)
    assert one.vapour == pytest.approx(many.vapour, rel=1e-9)
    assert one.heating_wh == pytest.approx(many.heating_wh, rel=1e-6)
    assert one.lighting_wh == pytest.approx(many.lighting_wh, rel=1e-9)


def test_huge_steps_settle_without_overshoot() -> None:
    room = classroom()
    drive = Drive(ventilation=1.0, setpoint=21.0)
    steady = 420.0 + 1e6 * 0.097 / (room.airflow(drive))
    for _ in range(5):
        room.advance(1e7, CLASS, night(-5.0), drive)
        assert 420.0 < room.co2 <= steady * 1.05
        assert 19.0 < room.temperature < 22.0
        assert 0.0 < room.humidity <= 100.0


def test_heating_holds_the_setpoint_and_night_setback_cools() -> None:
    room = classroom()
    room.advance(8 * 3600.0, Occupants(), night(-10.0), Drive(setpoint=21.0))
    assert 20.0 < room.temperature <= 21.0
    assert room.heating_wh > 0
    room.advance(2 * 3600.0, Occupants(), night(-10.0), Drive(setpoint=16.0))
    assert 16.0 < room.temperature < 20.0


def test_occupants_warm_the_room_and_add_moisture() -> None:
    empty, full = classroom(), classroom()
    empty.advance(3000.0, Occupants(), night(5.0), Drive(setpoint=20.0))
    full.advance(3000.0, CLASS, night(5.0), Drive(setpoint=20.0))
    assert full.temperature > empty.temperature
    assert full.humidity > empty.humidity + 5.0


def test_energy_counters() -> None:
    """60 m² at 500 lx: 500/(130·0.6·0.8) ≈ 8 W/m²; fans SFP 1500 × design airflow."""
    room = classroom()
    room.advance(3600.0, Occupants(), night(20.0), Drive(lights=1.0, ventilation=1.0))
    assert room.lighting_wh == pytest.approx(60.0 * 500.0 / 62.4, rel=1e-6)
    assert room.fan_wh == pytest.approx(1500.0 * room.params.design_airflow / 1000.0, rel=1e-6)
    room.advance(3600.0, Occupants(), night(20.0), Drive(lights=0.5))
    assert room.lighting_wh == pytest.approx(1.5 * 60.0 * 500.0 / 62.4, rel=1e-6)


def test_illuminance_adds_daylight_and_dimmed_light() -> None:
    params = RoomParams.for_room(make_room("r101", orientation="S"))
    noon = dataclasses.replace(night(), illuminance=10_000.0, sun_altitude=20.0)
    assert illuminance(params, noon, Drive()) == pytest.approx(500.0)
    assert illuminance(params, noon, Drive(blinds=1.0)) == pytest.approx(50.0)
    assert illuminance(params, night(), Drive(lights=0.5)) == pytest.approx(250.0)
    interior = RoomParams.for_room(make_room("r102", orientation="none"))
    assert illuminance(interior, noon, Drive()) == 0.0
