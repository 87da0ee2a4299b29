"""Every command arrives: none is dropped because the connection is busy.

A campus of 10,000 rooms sends 20,000 commands at the end of its start-up settle, far more than
the QoS 1 window of commands in flight; the driver keeps the rest waiting, in order, and sends
them as the broker acknowledges. Real Mosquitto, a paho client as
the devices.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from campus.clock import WallClock
from campus.model import ActuatorSpec, ActuatorType, Building, Campus, MqttBinding, Room, Site
from campus.types import Command
from controller.runtime import Controller
from controller.service import ServiceOptions, build_controller
from drivers.mqtt import MqttDriver, MqttSettings
from drivers.mqtt.driver import COMMAND_WINDOW
from drivers.mqtt.settings import fast_path_default
from rules.schema import RuleSet
from tests.support.aio import run_async
from tests.support.devices import CommandRecorder
from tests.support.mosquitto import Broker, free_port, running_mosquitto
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt

ROOMS = 10_000


def switch(room: str, name: str, prefix: str, qos: int = 1) -> ActuatorSpec:
    device = f"zigbee2mqtt/{prefix}-{room.replace('.', '-')}-{name}"
    return ActuatorSpec(
        id=f"{room}.{name}",
        name=name,
        room=room,
        type=ActuatorType.SWITCH,
        default=False,
        mqtt=MqttBinding(device, key="state", qos=qos),
    )


def campus_of(rooms: int, prefix: str, fan_qos: int = 1) -> Campus:
    """`rooms` rooms in building b1, each with a fan and lights (switches), nothing else."""
    built = []
    for i in range(rooms):
        room = f"b1.r{i}"
        fan = switch(room, "fan", prefix, fan_qos)
        built.append(
            Room(
                id=room,
                key=f"r{i}",
                name=f"Room {i}",
                building="b1",
                kind="classroom",
                actuators={"fan": fan, "lights": switch(room, "lights", prefix)},
            )
        )
    return Campus(
        site=Site(id="q", name="Queue test", timezone="Europe/Oslo"),
        buildings=(Building(id="b1", name="Building 1", rooms=tuple(built)),),
    )


@run_async
async def test_ten_thousand_rooms_start_and_every_device_gets_its_command(
    fresh_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """`campusctl run`'s controller on 10,000 rooms of two switches: at the end of the settle
    all 20,000 actuators get their state, each exactly once, within 10 s (the driver dropped
    every command beyond paho's queue before). On paho's public API alone (the fast path's
    fallback: CAMPUSCTL_MQTT_FAST_PATH=0 runs this again) every message costs about twice as
    much, and the bound is 20 s: that run proves that the fallback loses none."""
    campus = campus_of(ROOMS, "ten")
    devices = CommandRecorder(fresh_broker)
    options = ServiceOptions(broker_url=fresh_broker.url, settle=0.5, watch_rules=0)
    controller = build_controller(campus, RuleSet(), WallClock(), options)
    task = asyncio.create_task(controller.run())
    caplog.set_level(logging.ERROR, logger="campusctl")
    try:
        await asyncio.wait_for(controller.ready.wait(), 30)
        await wait_for(lambda: controller.commands == 2 * ROOMS, "the start-up commands")
        within = 10 if fast_path_default() else 20
        took = await wait_for(
            lambda: devices.topics() == 2 * ROOMS, "every device's command", within=within
        )
        driver = controller.driver("mqtt")
        assert isinstance(driver, MqttDriver)
        await wait_for(lambda: driver.commands_waiting == 0, "the queue to empty")
        assert all(got == [(b'{"state":"OFF"}', 1)] for got in devices.by_topic().values())
        assert driver.stats.commands_sent == 2 * ROOMS
        assert not [r for r in caplog.records if "not sent" in r.getMessage()]
        print(f"20,000 commands arrived {took:.2f} s after the controller decided them")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        devices.close()


def command(actuator: str, value: bool) -> Command:
    return Command(actuator, value, 0.0, "rule:test", 5, "test")


@run_async
async def test_commands_beyond_the_window_wait_and_every_one_goes_out_in_order(
    fresh_broker: Broker,
) -> None:
    """Beyond the window commands wait in the order they were decided; a newer command for an
    actuator whose command still waits goes out after it: while connected the device gets
    every command the controller decided, whatever the broker's pace (the checker of the
    campus-load benchmark counts each one)."""
    campus = campus_of(COMMAND_WINDOW + 20, "newer")
    devices = CommandRecorder(fresh_broker)
    settings = MqttSettings(url=fresh_broker.url)
    try:
        async with MqttDriver(campus, settings, WallClock()) as driver:
            await asyncio.wait_for(driver.wait_connected(), 10)
            # one loop pass: no acknowledgement can come in between
            for i in range(COMMAND_WINDOW + 20):
                driver.send(command(f"b1.r{i}.fan", True))
            assert driver.commands_waiting == 20
            waiting = f"b1.r{COMMAND_WINDOW + 5}.fan"
            driver.send(command(waiting, False))
            assert driver.commands_waiting == 21
            await wait_for(lambda: devices.count() == COMMAND_WINDOW + 21, "every command")
            await wait_for(lambda: driver.commands_waiting == 0, "the queue to empty")
        toggled = f"zigbee2mqtt/newer-b1-r{COMMAND_WINDOW + 5}-fan/set"
        assert devices.by_topic()[toggled] == [(b'{"state":"ON"}', 1), (b'{"state":"OFF"}', 1)]
        others = [got for topic, got in devices.by_topic().items() if topic != toggled]
        assert all(got == [(b'{"state":"ON"}', 1)] for got in others)
        assert driver.stats.commands_sent == COMMAND_WINDOW + 21
        assert driver.stats.commands_superseded == 0
    finally:
        devices.close()


@run_async
async def test_a_queue_beyond_its_bound_keeps_the_latest_command_per_actuator(
    fresh_broker: Broker,
) -> None:
    """More waiting commands than the bound (WAITING_PER_ACTUATOR per actuator, at least
    1,024): the queue is reduced to the latest per actuator, counted, so it stays bounded by
    the campus's size; every device still ends at its latest command."""
    campus = campus_of(2, "bound")  # 4 actuators: the bound is 1,024 commands
    devices = CommandRecorder(fresh_broker)
    settings = MqttSettings(url=fresh_broker.url)
    try:
        async with MqttDriver(campus, settings, WallClock()) as driver:
            await asyncio.wait_for(driver.wait_connected(), 10)
            sent = COMMAND_WINDOW + 1024 + 1  # one loop pass: the window fills, then the queue
            for i in range(sent):
                driver.send(command(f"b1.r{i % 2}.{'fan' if i % 4 < 2 else 'lights'}", i % 3 == 0))
            assert driver.commands_waiting == 4
            assert driver.stats.commands_superseded == 1025 - 4
            await wait_for(lambda: driver.commands_waiting == 0, "the queue to empty")
            await wait_for(lambda: devices.count() == COMMAND_WINDOW + 4, "every command sent")
        latest: dict[str, bytes] = {}
        for i in range(sent):
            topic = f"zigbee2mqtt/bound-b1-r{i % 2}-{'fan' if i % 4 < 2 else 'lights'}/set"
            latest[topic] = b'{"state":"ON"}' if i % 3 == 0 else b'{"state":"OFF"}'
        assert {topic: got[-1][0] for topic, got in devices.by_topic().items()} == latest
    finally:
        devices.close()


@run_async
async def test_a_binding_with_qos_0_sends_its_commands_at_qos_0(fresh_broker: Broker) -> None:
    """`qos: 0` on an actuator's binding: its commands go out fire-and-forget, never wait for
    the window; the others stay QoS 1."""
    campus = campus_of(1, "qos", fan_qos=0)
    devices = CommandRecorder(fresh_broker)
    try:
        async with MqttDriver(campus, MqttSettings(url=fresh_broker.url), WallClock()) as driver:
            await asyncio.wait_for(driver.wait_connected(), 10)
            driver.send(command("b1.r0.fan", True))
            driver.send(command("b1.r0.lights", True))
            await wait_for(lambda: devices.topics() == 2, "both commands")
        assert devices.by_topic()["zigbee2mqtt/qos-b1-r0-fan/set"] == [(b'{"state":"ON"}', 0)]
        assert devices.by_topic()["zigbee2mqtt/qos-b1-r0-lights/set"] == [(b'{"state":"ON"}', 1)]
    finally:
        devices.close()


@run_async
async def test_commands_in_flight_and_waiting_survive_a_broker_restart(tmp_path: Path) -> None:
    """COMMAND_WINDOW + 136 commands decided in one pass (a window in flight, 136 waiting),
    and the broker goes down before any is acknowledged: after its restart paho re-sends those
    in flight and the driver sends those waiting; every device ends at its command. The
    devices keep a persistent session on a broker that saves it, so nothing they were owed is
    lost while they are away."""
    port = free_port()
    extra = f"persistence true\npersistence_location {tmp_path}/\n"
    count = COMMAND_WINDOW + 136
    campus = campus_of(count, "restart")
    settings = MqttSettings(url=f"mqtt://127.0.0.1:{port}", reconnect_min=0.1, reconnect_max=0.5)
    with ExitStack() as first:
        broker = first.enter_context(running_mosquitto(tmp_path / "first", port, extra))
        devices = CommandRecorder(broker, session="restart")
        devices.close()  # away: the broker keeps its session and queues what it is owed
        async with MqttDriver(campus, settings, WallClock()) as driver:
            await asyncio.wait_for(driver.wait_connected(), 10)
            for i in range(count):
                driver.send(command(f"b1.r{i}.fan", True))
            assert driver.commands_waiting == count - COMMAND_WINDOW
            first.close()  # the broker stops (saving the sessions) before this pass writes
            await wait_for(lambda: not driver.connected, "the driver to notice")
            with running_mosquitto(tmp_path / "second", port, extra) as again:
                await asyncio.wait_for(driver.wait_connected(), 10)
                await wait_for(lambda: driver.commands_waiting == 0, "the waiting commands")
                await wait_for(
                    lambda: driver.backlog().get("paho_out_messages") == 0, "every PUBACK"
                )
                devices = CommandRecorder(again, session="restart")
                try:
                    await wait_for(lambda: devices.topics() == count, "every device")
                    assert {got[-1] for got in devices.by_topic().values()} == {
                        (b'{"state":"ON"}', 1)
                    }
                finally:
                    devices.close()


@pytest.mark.fast_path
@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "paho"])
@run_async
async def test_a_command_is_written_before_the_bus_hears_of_it(
    fresh_broker: Broker, fast_path: bool
) -> None:
    """`Controller.send` has the driver write a command out (drivers.base.Gathers) before it
    counts it and puts it on the bus: what listens (the control plane, the historian) works
    after the command has left, not before. A listener looks at what the driver still holds
    when it hears of the command: nothing."""
    campus = campus_of(1, "first")
    devices = CommandRecorder(fresh_broker)
    settings = MqttSettings(url=fresh_broker.url, fast_path=fast_path)
    driver = MqttDriver(campus, settings, WallClock())
    controller = Controller(campus, RuleSet(), [driver], WallClock(), settle=0.0)
    held: list[dict[str, int]] = []
    controller.bus.subscribe(Command, lambda _: held.append(driver.backlog()))
    task = asyncio.create_task(controller.run())
    try:
        await asyncio.wait_for(controller.ready.wait(), 10)
        await wait_for(lambda: devices.topics() == 2, "the start-up commands")
        held.clear()
        controller.override("b1.r0.fan", True, time.time() + 60, "alice")
        assert len(held) == 1
        assert held[0]["gathered_bytes"] == 0
        assert held[0]["paho_out_packets"] == 0
        await wait_for(lambda: devices.count() == 3, "the override's command")
        assert devices.by_topic()["zigbee2mqtt/first-b1-r0-fan/set"][-1] == (b'{"state":"ON"}', 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        devices.close()


@pytest.mark.fast_path
@pytest.mark.timeout(30, method="thread")
@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "paho"])
@run_async
async def test_a_qos_0_command_decided_while_a_message_is_handled_goes_out(
    fresh_broker: Broker, fast_path: bool
) -> None:
    """A message's handler sends a QoS 0 command and flushes it, as the controller does for a
    staff request on the control plane: the device gets it. For a message paho reads itself
    (every one with the fast path off; this QoS 1 one with it on) the handler runs inside
    paho's message callback, holding the lock that paho's write of a QoS 0 message
    takes; flushing there deadlocked the event loop (the thread timeout ends the run, with
    every thread's stack, if it ever does again)."""
    campus = campus_of(1, "inside", fan_qos=0)
    devices = CommandRecorder(fresh_broker)
    settings = MqttSettings(url=fresh_broker.url, fast_path=fast_path)
    asked: list[bytes] = []

    def on_ask(topic: str, payload: bytes) -> None:
        asked.append(payload)
        driver.send(command("b1.r0.fan", True))
        driver.flush()

    try:
        async with MqttDriver(campus, settings, WallClock()) as driver:
            await asyncio.wait_for(driver.wait_connected(), 10)
            driver.publish("test/inside/ask", b"on", qos=1, retain=True)
            driver.subscribe("test/inside/ask", on_ask)  # the retained request arrives
            await wait_for(lambda: devices.topics() == 1, "the command")
        assert asked == [b"on"]
        assert devices.by_topic()["zigbee2mqtt/inside-b1-r0-fan/set"] == [(b'{"state":"ON"}', 0)]
    finally:
        devices.close()
