"""Every reading counts when readings arrive in a burst, on a real Mosquitto.

The issue's reproduction: a campus of 200 classrooms, the benchmark's fan and light rules; one
write to the broker of 3,000 readings that change nothing, then for each of 20 rooms a reading
that crosses both thresholds followed at once by one inside both hysteresis bands, then 3,000
more. The controller reads them in large bursts; each of the 40 expected commands must come.
(When the driver's burst was evaluated as one batch, the second reading of each pair hid the
first: 0 of the 40 came.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import pytest

from campus.clock import WallClock
from campus.config import load_campus
from controller.service import ServiceOptions, build_controller
from rules.loader import load_rules
from tests.support.aio import run_async
from tests.support.campus_yaml import FAN_AND_LIGHT_RULES, one_lesson_campus
from tests.support.devices import CommandRecorder
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt

ROOMS = 200
PAIRS = 20
HOLDS = 3000
HOLD = b'{"occupancy":false,"co2":600,"illuminance":500}'
TRIGGER = b'{"occupancy":true,"co2":1100,"illuminance":200}'
IN_BAND = b'{"occupancy":true,"co2":900,"illuminance":350}'


def publish(topic: str, payload: bytes) -> bytes:
    """An MQTT 3.1.1 QoS 0 PUBLISH packet."""
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + payload
    length, size = b"", len(body)
    while True:
        byte, size = size & 0x7F, size >> 7
        length += bytes([byte | (0x80 if size else 0)])
        if not size:
            break
    return b"\x30" + length + body


def connect(client_id: str) -> bytes:
    name = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(name).to_bytes(2, "big") + name
    return b"\x10" + bytes([len(body)]) + body


def sensor(i: int) -> str:
    return f"zigbee2mqtt/b1-r{i:03d}-ms"


@run_async
async def test_pairs_in_a_burst_each_give_their_command(
    fresh_broker: Broker, tmp_path: Path
) -> None:
    campus_file = tmp_path / "campus.yaml"
    campus_file.write_text(
        one_lesson_campus(
            "burst",
            "Burst School",
            "buildings:\n  - id: b1\n    rooms:\n"
            f"      - {{id: r001..r{ROOMS:03d}, kind: classroom}}\n",
        )
    )
    campus = load_campus(campus_file)
    assert len(campus.rooms) == ROOMS
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(FAN_AND_LIGHT_RULES)
    rules = load_rules([tmp_path / "rules"], campus)
    assert rules.ok, [str(p) for p in rules.problems]
    devices = CommandRecorder(fresh_broker)
    options = ServiceOptions(broker_url=fresh_broker.url, settle=0.5, watch_rules=0)
    controller = build_controller(campus, rules, WallClock(), options)
    task = asyncio.create_task(controller.run())
    try:
        await asyncio.wait_for(controller.ready.wait(), 10)
        await wait_for(lambda: devices.count() == 2 * ROOMS, "the start-up commands")
        start = devices.count()

        paired = range(1, PAIRS + 1)
        others = list(range(PAIRS + 1, ROOMS + 1))
        holds = [publish(sensor(others[i % len(others)]), HOLD) for i in range(HOLDS)]
        pairs = [publish(sensor(i), p) for i in paired for p in (TRIGGER, IN_BAND)]
        data = connect("burst-gateway") + b"".join(holds + pairs + holds)
        with socket.create_connection((fresh_broker.host, fresh_broker.port)) as gateway:
            gateway.sendall(data)  # one write: the broker passes it on in large bursts
            await wait_for(
                lambda: controller.readings >= 3 * (2 * HOLDS + 2 * PAIRS), "every reading"
            )
            await wait_for(lambda: len(devices.since(start)) >= 2 * PAIRS, "40 commands")
        await asyncio.sleep(0.5)  # nothing more may come
        expected = {
            (f"zigbee2mqtt/b1-r{i:03d}-{device}/set", payload, 1)
            for i in paired
            for device, payload in (("light", b'{"state":"ON"}'), ("fan", b'{"percentage":100}'))
        }
        got = devices.since(start)
        assert sorted(got) == sorted(expected)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        devices.close()
