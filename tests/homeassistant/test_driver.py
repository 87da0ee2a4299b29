"""The Home Assistant driver against a real Home Assistant core: states in, service calls out."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from campus.clock import VirtualClock
from campus.model import Campus
from campus.types import Command, Quality
from drivers.homeassistant import HomeAssistantDriver
from tests.homeassistant.helpers import (
    T0,
    fast_settings,
    make_campus,
    readings_until,
    running,
    value,
)
from tests.support.aio import run_async
from tests.support.homeassistant import HomeAssistant
from tests.support.waiting import wait_for

pytestmark = pytest.mark.homeassistant


def command(actuator: str, value: float | bool) -> Command:
    return Command(f"b1.r101.{actuator}", value, T0, "rule:test", 10, "a test wants it")


async def call(ha: HomeAssistant, method: str, *args: object) -> None:
    """A change made in Home Assistant by someone else (a person, a device)."""
    await asyncio.to_thread(getattr(ha, method), *args)


async def entity(ha: HomeAssistant, entity_id: str) -> dict[str, object]:
    return await asyncio.to_thread(ha.state, entity_id)


@run_async
async def test_initial_states_become_readings_in_the_points_units(
    ha: HomeAssistant, tmp_path: Path
) -> None:
    async with running(make_campus(tmp_path, ha)) as (driver, clock):
        latest = await readings_until(driver, lambda r: "b1.r101.heating_now" in r)
    assert value(latest, "co2") == 600.0
    assert value(latest, "temperature") == 21.0
    assert value(latest, "temperature_f") == pytest.approx(20.0)
    assert value(latest, "occupancy") is False
    assert value(latest, "heating_now") == 21.0
    assert value(latest, "lights") == 0.0
    assert value(latest, "ventilation") == 0.0
    assert value(latest, "blinds") == 0.0
    assert value(latest, "heating_setpoint") == 20.0
    assert value(latest, "plug") is False
    assert {r.ts for r in latest.values()} == {clock.now()}


@run_async
async def test_a_unit_that_cannot_be_matched_or_a_missing_entity_is_unknown(
    ha: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "campusctl.homeassistant")
    async with running(make_campus(tmp_path, ha)) as (driver, _):
        latest = await readings_until(driver, lambda r: "b1.r101.ghost" in r)
    for name in ("noise", "ghost"):
        assert latest[f"b1.r101.{name}"].quality is Quality.UNAVAILABLE
    assert "sensor.r101_noise is in 'dB' but the point is in 'dBA'" in caplog.text
    assert "light.r101_ghost does not exist in Home Assistant" in caplog.text
    assert driver.stats.unusable_states >= 1


@run_async
async def test_state_changes_follow_and_unavailable_makes_the_point_unknown(
    ha: HomeAssistant, tmp_path: Path
) -> None:
    async with running(make_campus(tmp_path, ha)) as (driver, clock):
        await readings_until(driver, lambda r: "b1.r101.co2" in r)
        clock.advance(5)
        await call(ha, "set_number", "input_number.r101_co2", 1234)
        await call(ha, "set_boolean", "input_boolean.r101_occupied", True)
        latest = await readings_until(
            driver, lambda r: value(r, "co2") == 1234.0 and value(r, "occupancy") is True
        )
        assert latest["b1.r101.co2"].ts == clock.now()
        await call(ha, "set_boolean", "input_boolean.r101_online", False)
        latest = await readings_until(driver, lambda r: "b1.r101.co2" in r)
        assert latest["b1.r101.co2"].quality is Quality.UNAVAILABLE
        assert latest["b1.r101.co2"].value is None
        await call(ha, "set_boolean", "input_boolean.r101_online", True)
        latest = await readings_until(driver, lambda r: value(r, "co2") == 1234.0)
        assert latest["b1.r101.co2"].quality is Quality.GOOD


@run_async
async def test_commands_use_each_domains_service_and_the_device_reports_back(
    ha: HomeAssistant, tmp_path: Path
) -> None:
    async with running(make_campus(tmp_path, ha)) as (driver, _):
        await readings_until(driver, lambda r: "b1.r101.lights" in r)
        driver.send(command("lights", 40))
        driver.send(command("ventilation", 70))
        driver.send(command("blinds", 25))
        driver.send(command("heating_setpoint", 22.5))
        driver.send(command("plug", True))
        latest = await readings_until(
            driver,
            lambda r: (
                value(r, "lights") == 40.0
                and value(r, "ventilation") == 70.0
                and value(r, "blinds") == 25.0
                and value(r, "heating_setpoint") == 22.5
                and value(r, "plug") is True
            ),
        )
        assert latest
        light = await entity(ha, "light.r101_lights")
        assert light["state"] == "on"
        assert light["attributes"]["brightness"] == 102  # type: ignore[index]
        blinds = await entity(ha, "cover.r101_blinds")
        assert blinds["attributes"]["current_position"] == 75  # type: ignore[index]
        driver.send(command("lights", 0))
        driver.send(command("ventilation", 0))
        await readings_until(
            driver, lambda r: value(r, "lights") == 0.0 and value(r, "ventilation") == 0.0
        )
        assert (await entity(ha, "light.r101_lights"))["state"] == "off"
        assert (await entity(ha, "fan.r101_ventilation"))["state"] == "off"
        assert driver.stats.commands_failed == 0


@run_async
async def test_a_refused_service_call_is_reported_with_has_message_and_nothing_stops(
    ha: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "campusctl.homeassistant")
    async with running(make_campus(tmp_path, ha)) as (driver, _):
        driver.send(command("heating_setpoint", 38))
        driver.send(command("ghost", True))
        driver.send(command("plug", True))
        await wait_for(lambda: driver.stats.commands_failed == 2, "two failures")
        await wait_for(lambda: driver.stats.commands_sent == 1, "the plug's command")
        failures = {f.actuator: f for f in driver.failures}
        setpoint = failures["b1.r101.heating_setpoint"]
        assert setpoint.entity == "climate.r101_heating"
        assert setpoint.service == "climate.set_temperature"
        assert "38" in setpoint.message
        assert "35" in setpoint.message  # HA's own words name its accepted range
        assert failures["b1.r101.ghost"].message == "the entity does not exist in HA"
        assert "climate.r101_heating" in caplog.text
        assert (await entity(ha, "switch.r101_plug"))["state"] == "on"


@run_async
async def test_the_token_is_never_logged_and_a_rejected_one_is_retried(
    ha: HomeAssistant, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    campus = make_campus(tmp_path, ha, token="not-a-valid-token-0123456789")
    async with running_without_waiting(campus) as driver:
        await wait_for(lambda: driver.stats.connect_failures >= 2, "two refused attempts")
        assert not driver.connected
    assert "refused the token from the file" in caplog.text
    assert "not-a-valid-token" not in caplog.text
    (tmp_path / "ha-token").write_text(ha.token)
    async with running(campus) as (driver, _):
        assert driver.connected
    assert ha.token not in caplog.text


@pytest.mark.faults
@run_async
async def test_a_restart_of_home_assistant_is_survived_and_states_are_read_again(
    ha: HomeAssistant, tmp_path: Path
) -> None:
    async with running(make_campus(tmp_path, ha)) as (driver, _):
        await readings_until(driver, lambda r: "b1.r101.co2" in r)
        await asyncio.to_thread(ha.stop)
        await wait_for(lambda: not driver.connected, "the driver to notice", within=10)
        driver.send(command("ventilation", 55))
        await asyncio.to_thread(ha.start)
        await call(ha, "set_number", "input_number.r101_co2", 1500)
        latest = await readings_until(
            driver, lambda r: value(r, "co2") == 1500.0 and value(r, "ventilation") == 55.0, 30
        )
        assert latest
    assert driver.stats.connects >= 2
    assert driver.stats.commands_held == 1
    assert (await entity(ha, "fan.r101_ventilation"))["attributes"]["percentage"] == 55  # type: ignore[index]


def running_without_waiting(campus: Campus) -> HomeAssistantDriver:
    """A driver to enter without waiting for a session (its token is refused)."""
    return HomeAssistantDriver(campus, fast_settings(campus), VirtualClock(T0))
