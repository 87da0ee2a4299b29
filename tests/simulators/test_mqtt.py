"""The MQTT runner against a real Mosquitto: reports, availability, commands and their replies."""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from campus.brokerurl import parse_broker_url
from campus.clock import VirtualClock, parse_start
from simulators import cli
from simulators.mqtt import SimulatorRunner
from simulators.world import World
from tests.simulators.factory import make_campus, make_room
from tests.support.campus_yaml import one_lesson_campus
from tests.support.mosquitto import Broker, free_port, running_mosquitto
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt

OFFLINE = b'{"state":"offline"}'
START = parse_start("2026-11-23 07:50", "Europe/Oslo")


class Recorder:
    """A test client that records everything under a topic prefix."""

    def __init__(self, broker: Broker, prefix: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/#", qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(5), "test client did not subscribe"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def on(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def prefix() -> str:
    return f"sim-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def recorder(broker: Broker, prefix: str) -> Iterator[Recorder]:
    r = Recorder(broker, prefix)
    yield r
    r.close()


def test_runner_reports_and_obeys_commands(broker: Broker, prefix: str, recorder: Recorder) -> None:
    campus = make_campus(make_room("r101", prefix=prefix))
    sensor = f"{prefix}/b1-r101-multisensor"
    light = f"{prefix}/b1-r101-lights"

    async def scenario() -> None:
        clock = VirtualClock(START)
        world = World(campus, seed=1, start=START)
        runner = SimulatorRunner(world, clock, parse_broker_url(broker.url), step=5.0)
        task = asyncio.create_task(runner.run())
        await wait_for(lambda: bool(recorder.on(f"{sensor}/availability")), "availability")
        await wait_for(lambda: bool(recorder.on(sensor)), "first report")
        first = len(recorder.on(sensor))
        clock.advance(120.0)
        await wait_for(lambda: len(recorder.on(sensor)) > first, "periodic report")
        assert world.now == START + 120.0
        report = json.loads(recorder.on(sensor)[-1])
        assert {"occupancy", "illuminance", "co2", "temperature", "humidity"} <= set(report)

        recorder.client.publish(f"{light}/set", b'{"state":"ON","brightness":254}', qos=1)
        on = b'{"state":"ON","brightness":254}'
        await wait_for(lambda: on in recorder.on(light), "light state after the command")
        assert world.truth("b1.r101").lights == 1.0
        recorder.client.publish(f"{light}/set", b"{broken", qos=1)
        recorder.client.publish(f"{light}/set", b'{"brightness":127}', qos=1)
        await wait_for(lambda: recorder.on(light)[-1] == b'{"state":"ON","brightness":127}', "dim")

        runner.stop()
        await asyncio.wait_for(task, 10)
        # The broker acknowledged the offline message to the runner; its copy to the recorder
        # may still be on the way.
        await wait_for(lambda: recorder.on(f"{sensor}/availability")[-1] == OFFLINE, "offline")

    asyncio.run(scenario())
    assert recorder.on(f"{sensor}/availability")[0] == b'{"state":"online"}'
    retained = {t: r for t, _, r in recorder.messages}
    assert retained[sensor] is False


def test_runner_reconnects_after_the_broker_restarts(tmp_path: Path, prefix: str) -> None:
    """The world keeps running while the broker is away; devices announce themselves again."""
    campus = make_campus(make_room("r101", prefix=prefix))
    world = World(campus, seed=1, start=START)
    port = free_port()

    async def scenario() -> None:
        clock = VirtualClock(START)
        runner = SimulatorRunner(world, clock, parse_broker_url(f"mqtt://127.0.0.1:{port}"))
        runner.client.reconnect_delay_set(1, 1)
        with running_mosquitto(tmp_path / "first", port=port):
            task = asyncio.create_task(runner.run())
            await wait_for(runner.connected.is_set, "first connection")
        await wait_for(lambda: not runner.connected.is_set(), "disconnection")
        clock.advance(60.0)
        await wait_for(lambda: world.now == START + 60.0, "a step while the broker is away")
        with running_mosquitto(tmp_path / "second", port=port) as again:
            await wait_for(runner.connected.is_set, "reconnection", 15.0)
            retained = Recorder(again, prefix)
            sensor = f"{prefix}/b1-r101-multisensor/availability"
            await wait_for(lambda: retained.on(sensor) == [b'{"state":"online"}'], "availability")
            retained.close()
            runner.stop()
            await asyncio.wait_for(task, 10)

    asyncio.run(scenario())


def test_cli_runs_for_a_duration_and_goes_offline(
    broker: Broker, prefix: str, recorder: Recorder, tmp_path: Path
) -> None:
    config = tmp_path / "campus.yaml"
    rooms = "buildings: [{id: b1, rooms: [{id: r101, kind: classroom, capacity: 28, area: 60}]}]"
    config.write_text(one_lesson_campus("t", "T", rooms).replace("zigbee2mqtt/", f"{prefix}/"))
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(
        [
            *("--config", str(config), "--broker", broker.url, "--speed", "600"),
            *("--duration", "1", "--start", "2026-11-23 07:50", "--seed", "3"),
        ]
    )
    assert cli.run(args) == 0
    sensor = f"{prefix}/b1-r101-ms"
    availability = f"{sensor}/availability"
    asyncio.run(wait_for(lambda: recorder.on(availability)[-1:] == [OFFLINE], "offline"))
    assert recorder.on(f"{sensor}/availability")[0] == b'{"state":"online"}'
    assert len(recorder.on(sensor)) >= 5
