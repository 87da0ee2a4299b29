"""The demo's embedded broker (amqtt, MQTT 3.1.1 only) works with the driver's defaults."""

from __future__ import annotations

import asyncio
import logging

import pytest

from campus.clock import VirtualClock
from campus.types import Command
from drivers.mqtt import MqttDriver, MqttSettings
from tests.drivers.helpers import Peer, readings_until
from tests.drivers.sample_campus import device_topic, make_campus, multisensor_topic
from tests.support.aio import run_async
from tests.support.mosquitto import free_port
from tests.support.waiting import wait_for

amqtt_broker = pytest.importorskip("amqtt.broker")

pytestmark = [
    pytest.mark.mqtt,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@run_async
async def test_readings_and_commands_through_amqtt() -> None:
    logging.getLogger("amqtt").setLevel(logging.ERROR)
    logging.getLogger("transitions").setLevel(logging.ERROR)
    port = free_port()
    broker = amqtt_broker.Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "sys_interval": 0,
            "auth": {"allow-anonymous": True},
        }
    )
    await broker.start()
    try:
        settings = MqttSettings(url=f"mqtt://127.0.0.1:{port}")
        async with MqttDriver(make_campus("am"), settings, VirtualClock(5.0)) as driver:
            async with asyncio.timeout(5):
                await driver.wait_connected()
            peer = await asyncio.to_thread(Peer, "127.0.0.1", port)
            await asyncio.to_thread(peer.subscribe, device_topic("am", "fan") + "/set")
            await asyncio.to_thread(peer.publish, multisensor_topic("am"), b'{"co2":600}')
            [reading] = await readings_until(driver, lambda rs: len(rs) == 1)
            assert (reading.point, reading.value, reading.ts) == ("b1.r101.co2", 600.0, 5.0)
            driver.send(Command("b1.r101.fan", 60.0, 5.0, "rule:t", 8, "t"))
            await wait_for(lambda: peer.received, what="the fan command")
            assert peer.received[0].payload == b'{"percentage":60}'
            await asyncio.to_thread(peer.close)
    finally:
        await broker.shutdown()
