"""The driver on a bad day: killed without a goodbye, broker restarts, broker not there yet."""

from __future__ import annotations

import asyncio
import logging
import sys
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from campus.clock import VirtualClock
from campus.types import Command
from drivers.mqtt import MqttDriver, MqttSettings
from tests.drivers.helpers import Peer, readings_until
from tests.drivers.sample_campus import device_topic, make_campus, multisensor_topic
from tests.support.aio import run_async
from tests.support.mosquitto import Broker, free_port, running_mosquitto
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[2]
STATUS = "campusctl/test/status"


def fast_settings(url: str) -> MqttSettings:
    return MqttSettings(url=url, status_topic=STATUS, reconnect_min=0.1, reconnect_max=0.5)


def command(actuator: str, value: float | bool) -> Command:
    return Command(actuator, value, 0.0, "rule:test", 8, "test")


@run_async
async def test_last_will_says_offline_when_the_process_dies(fresh_broker: Broker) -> None:
    watcher = Peer(fresh_broker.host, fresh_broker.port)
    watcher.subscribe(STATUS)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.drivers.driver_child",
        fresh_broker.url,
        STATUS,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 10)
        assert line == b"connected\n"
        await wait_for(lambda: watcher.payloads(STATUS) == [b"online"], what="online")
        child.kill()
        await child.wait()
        await wait_for(lambda: watcher.payloads(STATUS) == [b"online", b"offline"], what="will")
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        watcher.close()
    late = Peer(fresh_broker.host, fresh_broker.port)
    late.subscribe(STATUS)
    await wait_for(lambda: late.payloads(STATUS) == [b"offline"], what="retained will")
    assert late.on(STATUS)[0].retain
    late.close()


@run_async
async def test_broker_restart_reconnects_resubscribes_and_delivers_held_commands(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="campusctl.mqtt")
    port = free_port()
    with ExitStack() as first:
        broker = first.enter_context(running_mosquitto(tmp_path / "first", port))
        settings = fast_settings(broker.url)
        async with MqttDriver(make_campus("re"), settings, VirtualClock(0.0)) as driver:
            async with asyncio.timeout(5):
                await driver.wait_connected()
            peer = Peer(broker.host, broker.port)
            peer.publish(multisensor_topic("re"), b'{"co2":500}')
            await readings_until(driver, lambda rs: len(rs) == 1)
            peer.close()

            first.close()
            await wait_for(lambda: not driver.connected, what="the driver to notice")
            driver.send(command("b1.r101.lights", True))
            driver.send(command("b1.r101.fan", 20.0))
            driver.send(command("b1.r101.fan", 40.0))
            driver.send(command("b1.r101.lights", False))
            assert driver.stats.commands_held == 4
            assert driver.commands_waiting == 4
            await wait_for(lambda: driver.stats.connect_failures >= 2, what="failed retries")

            with running_mosquitto(tmp_path / "second", port) as again:
                peer = Peer(again.host, again.port)
                for name in ("lights", "fan"):
                    peer.subscribe(device_topic("re", name) + "/set")
                peer.subscribe(STATUS)
                async with asyncio.timeout(5):
                    await driver.wait_connected()
                await wait_for(lambda: peer.payloads(STATUS) == [b"online"], what="online")
                await wait_for(lambda: len(peer.received) == 3, what="held commands")
                assert peer.payloads(device_topic("re", "lights") + "/set") == [b'{"state":"OFF"}']
                assert peer.payloads(device_topic("re", "fan") + "/set") == [b'{"percentage":40}']
                assert driver.stats.commands_superseded == 2  # reduced when the link returned
                peer.publish(multisensor_topic("re"), b'{"co2":900}')
                [reading] = await readings_until(driver, lambda rs: len(rs) == 1)
                assert (reading.point, reading.value) == ("b1.r101.co2", 900.0)
                assert driver.stats.connects == 2
                assert driver.stats.disconnects == 1
                assert driver.stats.commands_sent == 2
                peer.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "campusctl.mqtt"]
    assert sum("lost the connection" in m for m in messages) == 1
    assert sum("cannot connect" in m for m in messages) == 1
    assert sum("reconnected to" in m for m in messages) == 1


@run_async
async def test_starts_without_a_broker_and_connects_when_one_appears(tmp_path: Path) -> None:
    port = free_port()
    settings = fast_settings(f"mqtt://127.0.0.1:{port}")
    async with MqttDriver(make_campus("late"), settings, VirtualClock(0.0)) as driver:
        driver.publish("campusctl/test/events", b"lost: QoS 0 while disconnected")
        driver.publish("campusctl/test/rooms/b1.r101", b"kept", qos=1, retain=True)
        await wait_for(lambda: driver.stats.connect_failures >= 2, what="failed attempts")
        assert not driver.connected
        with running_mosquitto(tmp_path / "broker", port) as broker:
            async with asyncio.timeout(5):
                await driver.wait_connected()
            peer = Peer(broker.host, broker.port)
            peer.subscribe("campusctl/test/rooms/#")
            await wait_for(lambda: peer.payloads("campusctl/test/rooms/b1.r101") == [b"kept"])
            assert driver.stats.publish_dropped == 1
            peer.close()


@run_async
async def test_shutdown_while_the_broker_is_down_is_prompt(tmp_path: Path) -> None:
    settings = fast_settings(f"mqtt://127.0.0.1:{free_port()}")
    async with asyncio.timeout(3):
        async with MqttDriver(make_campus("x"), settings, VirtualClock(0.0)) as driver:
            await wait_for(lambda: driver.stats.connect_failures >= 1, what="a failed attempt")


@run_async
async def test_a_broker_that_never_answers_connect_is_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = replace(fast_settings(f"mqtt://127.0.0.1:{port}"), connect_timeout=0.2)
    async with server, MqttDriver(make_campus("x"), settings, VirtualClock(0.0)) as driver:
        await wait_for(lambda: driver.stats.connect_failures >= 2, what="CONNACK timeouts")
        assert len(accepted) >= 2
    [warning] = [r.getMessage() for r in caplog.records if "cannot connect" in r.getMessage()]
    assert "no CONNACK within 0.2 s" in warning


@run_async
async def test_mqtts_to_a_plain_port_asks_whether_it_is_a_tls_port(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """Mosquitto resets a connection that starts with a TLS ClientHello: "connection reset by
    peer" alone sent people looking at the network."""
    settings = fast_settings(f"mqtts://{broker.host}:{broker.port}")
    async with MqttDriver(make_campus("x"), settings, VirtualClock(0.0)) as driver:
        await wait_for(lambda: driver.stats.connect_failures >= 1, what="a failed TLS attempt")
    [warning] = [r.getMessage() for r in caplog.records if "cannot connect" in r.getMessage()]
    assert warning.startswith(
        f"cannot connect to the MQTT broker at mqtts://{broker.host}:{broker.port}: "
        "the broker did not answer TLS: is it a TLS port? ("
    )


@run_async
async def test_keepalive_pings_keep_an_idle_connection(
    fresh_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="campusctl.mqtt.paho")
    settings = replace(fast_settings(fresh_broker.url), keepalive=1)
    async with MqttDriver(make_campus("ka"), settings, VirtualClock(0.0)) as driver:
        async with asyncio.timeout(5):
            await driver.wait_connected()

        def pongs() -> int:
            return sum("Received PINGRESP" in r.getMessage() for r in caplog.records)

        await wait_for(lambda: pongs() >= 1, what="a keepalive round trip", within=5)
        assert driver.connected
        assert driver.stats.disconnects == 0
