"""The whole loop through a real Home Assistant: HA sensor -> rule -> command -> HA entity, and
a restart of Home Assistant in the middle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from campus.clock import VirtualClock
from campus.model import Campus
from controller.runtime import Controller
from controller.service import ServiceOptions, build_controller
from drivers.homeassistant import HomeAssistantDriver
from rules.loader import load_rules
from rules.schema import RuleSet
from tests.homeassistant.helpers import T0, campus_at, fast_settings, make_campus
from tests.support.aio import run_async
from tests.support.homeassistant import HomeAssistant
from tests.support.waiting import wait_for

RULES = """\
rules:
  - id: ventilate-stuffy-rooms
    when: co2 > 1000
    until: co2 < 800
    set: {ventilation: 80}
  - id: lights-when-occupied
    when: occupancy
    set: {lights: 60}
"""


def ruleset(tmp_path: Path, campus: Campus) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    rules = load_rules([path], campus)
    assert not rules.problems, rules.problems
    return rules


async def until_entity(
    ha: HomeAssistant, entity: str, check: Callable[[dict[str, Any]], bool], within: float = 15
) -> dict[str, Any]:
    """Poll Home Assistant's REST API until the entity's state passes `check`."""
    async with asyncio.timeout(within):
        while True:
            state = await asyncio.to_thread(ha.state, entity)
            if check(state):
                return state
            await asyncio.sleep(0.05)


@pytest.mark.homeassistant
@run_async
async def test_ha_sensors_drive_rules_that_drive_ha_entities_across_a_restart(
    ha: HomeAssistant, tmp_path: Path
) -> None:
    campus = make_campus(tmp_path, ha)
    clock = VirtualClock(T0)
    driver = HomeAssistantDriver(campus, fast_settings(campus), clock)
    controller = Controller(campus, ruleset(tmp_path, campus), [driver], clock, settle=0)
    task = asyncio.create_task(controller.run())
    try:
        async with asyncio.timeout(20):
            await controller.ready.wait()
            await driver.wait_connected()
        await asyncio.to_thread(ha.set_number, "input_number.r101_co2", 1400)
        await until_entity(
            ha, "fan.r101_ventilation", lambda s: s["attributes"]["percentage"] == 80
        )
        await asyncio.to_thread(ha.set_boolean, "input_boolean.r101_occupied", True)
        light = await until_entity(ha, "light.r101_lights", lambda s: s["state"] == "on")
        assert light["attributes"]["brightness"] == 153

        await asyncio.to_thread(ha.restart)
        await wait_for(lambda: driver.stats.connects >= 2, "the driver to come back", within=20)

        await asyncio.to_thread(ha.set_number, "input_number.r101_co2", 700)
        await until_entity(ha, "fan.r101_ventilation", lambda s: s["state"] == "off")
        assert controller.rooms["b1.r101"].commanded["ventilation"] == 0
        assert controller.rooms["b1.r101"].reported["lights"] == 60.0
        assert {f.actuator for f in driver.failures} == {"b1.r101.ghost"}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_service_adds_the_ha_driver_when_the_campus_has_a_homeassistant_section(
    tmp_path: Path,
) -> None:
    campus = campus_at(tmp_path, "http://127.0.0.1:9", "unused")
    controller = build_controller(
        campus, ruleset(tmp_path, campus), VirtualClock(T0), ServiceOptions(watch_rules=0)
    )
    assert [d.name for d in controller.drivers] == ["mqtt", "homeassistant"]
    driver = controller.driver("homeassistant")
    assert driver is not None
    assert all(driver.handles(spec) for spec in campus.actuators().values())
