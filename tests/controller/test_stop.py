"""Stopping on a real broker: what arrives once the stop has begun is not acted on, because the
extensions (the historian's last write among them) have already stopped and would not record it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from campus.clock import ScaledClock
from controller.runtime import Controller
from controller.service import ServiceOptions, build_controller
from drivers.mqtt import MqttDriver
from rules.loader import load_rules
from tests.controller.harness import LIGHT_RULES, SENSOR, START, Devices, demo_campus, rules_folder
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt


class ReportsWhileStopping:
    """An extension that, as the controller stops it, has a device report a reading that would
    turn the lights on, and waits until the MQTT driver has decoded it."""

    name = "reports-while-stopping"

    def __init__(self, devices: Devices) -> None:
        self.devices = devices
        self.driver: MqttDriver | None = None

    async def start(self, controller: Controller) -> None:
        driver = controller.driver("mqtt")
        assert isinstance(driver, MqttDriver)
        self.driver = driver

    async def stop(self) -> None:
        assert self.driver is not None
        before = self.driver.stats.readings
        await asyncio.to_thread(self.devices.report, SENSOR, occupancy=True, illuminance=100)
        driver = self.driver
        await wait_for(lambda: driver.stats.readings > before, "the late reading to be decoded")


@run_async
async def test_readings_after_the_stop_begins_make_no_commands(
    fresh_broker: Broker, tmp_path: Path
) -> None:
    devices = Devices(fresh_broker)
    try:
        campus = demo_campus()
        ruleset = load_rules([rules_folder(tmp_path, LIGHT_RULES)], campus)
        assert ruleset.ok, [str(p) for p in ruleset.problems]
        clock = ScaledClock(START, speed=600.0)  # past the lights' min_switch_interval soon
        options = ServiceOptions(broker_url=fresh_broker.url, settle=0.0, watch_rules=0)
        controller = build_controller(campus, ruleset, clock, options)
        late = ReportsWhileStopping(devices)
        controller.extensions.append(late)
        task = asyncio.create_task(controller.run())
        await asyncio.wait_for(controller.ready.wait(), 10)
        devices.report(SENSOR, occupancy=False, illuminance=100)
        await wait_for(lambda: controller.readings >= 2, "the first readings")
        started = clock.now()
        await wait_for(lambda: clock.now() > started + 600, "ten minutes")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert late.driver is not None
        assert late.driver.stats.readings >= 4
        lights = [c for c in controller.recent if c.actuator == "main.r101.lights"]
        assert all(c.value is not True for c in lights), lights
    finally:
        devices.close()
