"""The MQTT driver against a real Mosquitto: readings, bad payloads, commands, extras, status."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from campus.clock import VirtualClock
from campus.problems import DriverError
from campus.types import Command, Quality, Reading
from drivers.mqtt import MqttDriver, MqttSettings
from tests.drivers.helpers import Peer, by_point, readings_until
from tests.drivers.sample_campus import device_topic, make_campus, multisensor_topic
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt

_prefixes = itertools.count()
T0 = 1_800_000_000.0


@asynccontextmanager
async def running(
    broker: Broker, prefix: str, **settings: object
) -> AsyncIterator[tuple[MqttDriver, Peer, VirtualClock]]:
    """A connected driver for the sample campus under `prefix`, and a peer on the same broker."""
    clock = VirtualClock(T0)
    options = MqttSettings(
        url=broker.url,
        status_topic=f"campusctl/{prefix}/status",
        **settings,  # type: ignore[arg-type]
    )
    peer = Peer(broker.host, broker.port)
    try:
        async with MqttDriver(make_campus(prefix), options, clock) as driver:
            async with asyncio.timeout(5):
                await driver.wait_connected()
            yield driver, peer, clock
    finally:
        peer.close()


def new_prefix() -> str:
    return f"drv{next(_prefixes)}"


@run_async
async def test_multisensor_message_becomes_readings_stamped_by_the_clock(broker: Broker) -> None:
    prefix = new_prefix()
    async with running(broker, prefix) as (driver, peer, clock):
        clock.advance(42)
        peer.publish(
            multisensor_topic(prefix),
            b'{"occupancy":true,"illuminance":312,"co2":645,"temperature":21.4,'
            b'"humidity":41.2,"battery":97,"linkquality":120,"voltage":3005}',
        )
        got = by_point(await readings_until(driver, lambda rs: len(rs) == 5))
        assert got == {
            "b1.r101.occupancy": Reading("b1.r101.occupancy", True, T0 + 42),
            "b1.r101.illuminance": Reading("b1.r101.illuminance", 312.0, T0 + 42),
            "b1.r101.co2": Reading("b1.r101.co2", 645.0, T0 + 42),
            "b1.r101.temperature": Reading("b1.r101.temperature", 21.4, T0 + 42),
            "b1.r101.humidity": Reading("b1.r101.humidity", 41.2, T0 + 42),
        }
        assert driver.stats.bad_payloads == {}


@run_async
async def test_partial_updates_plain_values_and_a_disappearing_key(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = new_prefix()
    async with running(broker, prefix, missing_key_warn_after=3) as (driver, peer, _):
        for co2 in (700, 710, 720, 730):
            peer.publish(multisensor_topic(prefix), f'{{"co2":{co2},"occupancy":null}}')
        peer.publish(f"{prefix}/b1/r102/co2", b"1234")
        peer.publish(f"{prefix}/b1/r102/occupancy", b"ON")
        got = await readings_until(driver, lambda rs: len(rs) == 6)
        assert [(r.point, r.value) for r in got] == [
            ("b1.r101.co2", 700.0),
            ("b1.r101.co2", 710.0),
            ("b1.r101.co2", 720.0),
            ("b1.r101.co2", 730.0),
            ("b1.r102.co2", 1234.0),
            ("b1.r102.occupancy", True),
        ]
        assert driver.stats.missing_key_warnings == 4
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("'occupancy'" in m and multisensor_topic(prefix) in m for m in warned) == 1


@run_async
async def test_availability_offline_marks_every_point_and_actuator_of_the_device(
    broker: Broker,
) -> None:
    prefix = new_prefix()
    async with running(broker, prefix) as (driver, peer, _):
        peer.publish(multisensor_topic(prefix) + "/availability", b'{"state":"online"}')
        peer.publish(multisensor_topic(prefix) + "/availability", b'{"state":"offline"}')
        peer.publish(device_topic(prefix, "lights") + "/availability", b"offline")
        got = await readings_until(driver, lambda rs: len(rs) == 6)
        assert {r.point for r in got} == {
            "b1.r101.occupancy",
            "b1.r101.illuminance",
            "b1.r101.co2",
            "b1.r101.temperature",
            "b1.r101.humidity",
            "b1.r101.lights",
        }
        assert all(r.quality is Quality.UNAVAILABLE and r.value is None for r in got)


@run_async
async def test_reported_device_state_arrives_under_the_actuator_id(broker: Broker) -> None:
    prefix = new_prefix()
    async with running(broker, prefix) as (driver, peer, _):
        peer.publish(device_topic(prefix, "lights"), b'{"state":"ON","brightness":254}')
        peer.publish(device_topic(prefix, "dimmer"), b'{"state":"ON","brightness":127}')
        peer.publish(device_topic(prefix, "blinds"), b'{"position":30,"state":"OPEN"}')
        peer.publish(f"{prefix}/b1/r102/lights", b"OFF")
        got = await readings_until(driver, lambda rs: len(rs) == 4)
        assert [(r.point, r.value) for r in got] == [
            ("b1.r101.lights", True),
            ("b1.r101.dimmer", 50.0),
            ("b1.r101.blinds", 70.0),
            ("b1.r102.lights", False),
        ]


@run_async
async def test_bad_payloads_are_counted_logged_and_the_driver_keeps_working(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = new_prefix()
    sensor = multisensor_topic(prefix)
    async with running(broker, prefix) as (driver, peer, _):
        peer.publish(sensor, b"not json at all")
        peer.publish(f"{prefix}/b1/r102/co2", b"abc")
        peer.publish(f"{prefix}/b1/r102/occupancy", b"3")
        peer.publish(sensor + "/availability", b'{"state":"sleepy"}')
        peer.publish(device_topic(prefix, "fan"), b"[60]")
        peer.publish(sensor, b'{"co2":99999,"temperature":22.5}')
        got = await readings_until(driver, lambda rs: len(rs) == 1)
        assert [(r.point, r.value) for r in got] == [("b1.r101.temperature", 22.5)]
        assert driver.stats.bad_payloads == {
            "not_json": 1,
            "wrong_type": 2,
            "bad_availability": 1,
            "not_object": 1,
            "implausible": 1,
        }
        logged = [r.getMessage() for r in caplog.records if r.name == "campusctl.mqtt"]
        for topic, payload in [
            (f"{prefix}/b1/r102/co2", "'abc'"),
            (f"{prefix}/b1/r102/occupancy", "'3'"),
            (sensor + "/availability", '\'{"state":"sleepy"}\''),
            (device_topic(prefix, "fan"), "'[60]'"),
            (sensor, "'not json at all'"),
        ]:
            assert any(topic in m and payload in m for m in logged), (topic, logged)
        peer.publish(sensor, b'{"co2":640}')
        got = await readings_until(driver, lambda rs: len(rs) == 1)
        assert got[0].value == 640.0
        assert driver.stats.callback_errors == 0


@run_async
async def test_commands_are_published_exactly_with_qos_1_not_retained(broker: Broker) -> None:
    prefix = new_prefix()
    async with running(broker, prefix) as (driver, peer, _):
        expected = [
            ("lights", True, b'{"state":"ON"}'),
            ("dimmer", 50.0, b'{"brightness":127}'),
            ("fan", 60.0, b'{"percentage":60}'),
            ("blinds", 70.0, b'{"position":30}'),
            ("thermostat", 21.0, b'{"occupied_heating_setpoint":21}'),
        ]
        for name, _, _ in expected:
            peer.subscribe(device_topic(prefix, name) + "/set", qos=1)
        peer.subscribe(f"{prefix}/b1/r102/lights/cmnd", qos=1)
        for name, value, _ in expected:
            driver.send(Command(f"b1.r101.{name}", value, T0, "rule:test", 8, "test"))
        driver.send(Command("b1.r102.lights", True, T0, "override:ann", 4, "test"))
        await wait_for(lambda: len(peer.received) == 6, what="six commands")
        for name, _, payload in expected:
            [message] = peer.on(device_topic(prefix, name) + "/set")
            assert message.payload == payload
            assert message.qos == 1
            assert not message.retain
        assert peer.payloads(f"{prefix}/b1/r102/lights/cmnd") == [b"ON"]
        assert driver.stats.commands_sent == 6


@run_async
async def test_send_is_thread_safe_and_refuses_what_it_cannot_encode(broker: Broker) -> None:
    prefix = new_prefix()
    async with running(broker, prefix) as (driver, peer, _):
        peer.subscribe(device_topic(prefix, "fan") + "/set", qos=1)

        def from_a_thread() -> None:
            for value in range(10):
                driver.send(Command("b1.r101.fan", float(value), T0, "rule:t", 8, "t"))

        thread = threading.Thread(target=from_a_thread)
        thread.start()
        await asyncio.to_thread(thread.join)
        await wait_for(lambda: len(peer.received) == 10, what="ten fan commands")
        assert peer.payloads(device_topic(prefix, "fan") + "/set") == [
            f'{{"percentage":{v}}}'.encode() for v in range(10)
        ]
        with pytest.raises(DriverError, match="no usable MQTT binding"):
            driver.send(Command("b1.r101.nothing", True, T0, "rule:t", 8, "t"))
        with pytest.raises(DriverError, match="cannot take"):
            driver.send(Command("b1.r101.fan", 250.0, T0, "rule:t", 8, "t"))


@run_async
async def test_extra_subscription_and_a_failing_callback_never_stop_the_driver(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = new_prefix()
    requests = f"campusctl/{prefix}/request/+"
    override = f"campusctl/{prefix}/request/override"
    async with running(broker, prefix) as (driver, peer, _):
        got: list[tuple[str, bytes]] = []
        dropped: list[bytes] = []

        def broken(topic: str, payload: bytes) -> None:
            raise RuntimeError("bug in a control-plane handler")

        driver.subscribe(requests, lambda t, p: dropped.append(p))
        driver.unsubscribe(requests)
        driver.subscribe(requests, broken)
        driver.subscribe(requests, lambda t, p: got.append((t, p)))
        await republish_until(peer, override, b"ping", lambda: got)
        got.clear()
        peer.publish(override, b'{"actuator":"b1.r101.fan"}')
        peer.publish(multisensor_topic(prefix), b'{"co2":600}')
        await readings_until(driver, lambda rs: len(rs) == 1)
        assert got == [(override, b'{"actuator":"b1.r101.fan"}')]
        assert not dropped
        assert driver.stats.callback_errors >= 2
        assert any("bug in a control-plane handler" in (r.exc_text or "") for r in caplog.records)
        with pytest.raises(DriverError, match="not a valid MQTT topic filter"):
            driver.subscribe("a/#/b", broken)


async def republish_until(
    peer: Peer, topic: str, payload: bytes, delivered: Callable[[], object]
) -> None:
    """Publish until it arrives: a new subscription is live once the broker has acknowledged it,
    which the driver's synchronous `subscribe` does not wait for."""
    async with asyncio.timeout(5):
        while not delivered():
            await asyncio.to_thread(peer.publish, topic, payload)
            await asyncio.sleep(0.02)


@run_async
async def test_publish_for_the_control_plane(broker: Broker) -> None:
    prefix = new_prefix()
    async with running(broker, prefix) as (driver, peer, _):
        peer.subscribe(f"campusctl/{prefix}/rooms/#", qos=1)
        driver.publish(f"campusctl/{prefix}/rooms/b1.r101", '{"co2":645}', qos=1, retain=True)
        await wait_for(lambda: peer.received, what="the room state")
        [message] = peer.received
        assert message.payload == b'{"co2":645}'
        assert message.qos == 1
        with pytest.raises(DriverError, match="without wildcards"):
            driver.publish(f"campusctl/{prefix}/rooms/+", b"x")
        driver.publish(f"campusctl/{prefix}/rooms/b1.r101", b"", qos=1, retain=True)


@run_async
async def test_status_online_retained_then_offline_on_clean_shutdown(broker: Broker) -> None:
    prefix = new_prefix()
    status = f"campusctl/{prefix}/status"
    async with running(broker, prefix) as (driver, _peer, _):
        assert driver.status_topic == status
        late = Peer(broker.host, broker.port)
        late.subscribe(status)
        await wait_for(lambda: late.payloads(status) == [b"online"], what="retained online")
        assert late.on(status)[0].retain
    await wait_for(lambda: late.payloads(status) == [b"online", b"offline"], what="offline")
    late.close()
    after = Peer(broker.host, broker.port)
    after.subscribe(status)
    await wait_for(lambda: after.payloads(status) == [b"offline"], what="retained offline")
    after.close()
    assert driver.stats.disconnects == 1
    with pytest.raises(DriverError, match="not running"):
        driver.send(Command("b1.r101.fan", 1.0, T0, "rule:t", 8, "t"))


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
@run_async
async def test_round_trip_on_both_protocol_versions(broker: Broker, protocol: str) -> None:
    prefix = new_prefix()
    async with running(broker, prefix, protocol=protocol) as (driver, peer, _):
        peer.subscribe(device_topic(prefix, "lights") + "/set")
        driver.send(Command("b1.r101.lights", False, T0, "rule:t", 8, "t"))
        await wait_for(lambda: peer.received, what="the command")
        assert peer.received[0].payload == b'{"state":"OFF"}'
