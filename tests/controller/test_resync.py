"""Resync on a real broker: a device that reports a state other than the one commanded gets the
command again (controller.resync), and one that reports the commanded state does not."""

from __future__ import annotations

import asyncio

import pytest
from paho.mqtt import publish

from campus.clock import WallClock
from controller.resync import Resync
from controller.service import ServiceOptions, build_controller
from rules.schema import RuleSet
from tests.drivers.test_command_queue import campus_of
from tests.support.aio import run_async
from tests.support.devices import CommandRecorder
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt


@run_async
async def test_a_device_reporting_another_state_is_commanded_again(fresh_broker: Broker) -> None:
    campus = campus_of(2, "resync")
    devices = CommandRecorder(fresh_broker)
    options = ServiceOptions(broker_url=fresh_broker.url, settle=0.2, watch_rules=0)
    controller = build_controller(campus, RuleSet(), WallClock(), options)
    resync = next(e for e in controller.extensions if isinstance(e, Resync))
    resync.grace = 0.2
    task = asyncio.create_task(controller.run())
    try:
        await asyncio.wait_for(controller.ready.wait(), 10)
        await wait_for(lambda: devices.topics() == 4, "the start-up commands")
        start = devices.count()
        wrong, right = "zigbee2mqtt/resync-b1-r0-fan", "zigbee2mqtt/resync-b1-r1-fan"
        for topic, state in ((wrong, "ON"), (right, "OFF")):
            publish.single(
                topic, f'{{"state":"{state}"}}', hostname=fresh_broker.host, port=fresh_broker.port
            )
        await wait_for(lambda: resync.resent == 1, "the command sent again")
        await wait_for(lambda: devices.count() > start, "the device to get it")
        assert devices.since(start) == [(wrong + "/set", b'{"state":"OFF"}', 1)]
        assert controller.rooms["b1.r0"].reported["fan"] is True
        assert controller.rooms["b1.r1"].reported["fan"] is False
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        devices.close()
