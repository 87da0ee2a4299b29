"""Two controllers for one site on a real Mosquitto: the second `campusctl run` refuses to start,
naming the first's client id; one killed without clearing its claim is replaced at once; and a
connection whose client id another client takes says so once and backs off instead of knocking
the other off the broker twice a second."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt import publish
from paho.mqtt.enums import CallbackAPIVersion

from campus.clock import WallClock
from controller.children import stop_child
from drivers.mqtt import MqttDriver, MqttSettings
from tests.drivers.test_command_queue import campus_of
from tests.support.aio import run_async
from tests.support.campus_yaml import FAN_AND_LIGHT_RULES, one_lesson_campus
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for, wait_for_blocking

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[2]
CAMPUS = one_lesson_campus(
    "twice",
    "Twice School",
    """\
buildings:
  - id: b1
    rooms:
      - {id: r101, kind: classroom, capacity: 28, area: 60}
""",
)


def controller(folder: Path, broker: Broker, name: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "controller.cli", "run",
        "--config", str(folder / "campus.yaml"), "--rules", str(folder / "rules.yaml"),
        "--broker", broker.url, "--state", str(folder / f"{name}.sqlite"),
        "--no-discovery", "--watch-rules", "0", "--heartbeat", "0",
    ]  # fmt: skip
    log = (folder / f"{name}.log").open("wb")
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        stop_child(proc, 10)


def test_a_second_controller_of_the_site_refuses_to_start(
    fresh_broker: Broker, tmp_path: Path
) -> None:
    (tmp_path / "campus.yaml").write_text(CAMPUS)
    (tmp_path / "rules.yaml").write_text(FAN_AND_LIGHT_RULES)
    first = controller(tmp_path, fresh_broker, "first")
    try:
        wait_for_blocking(
            lambda: "claimed buildings" in (tmp_path / "first.log").read_text(),
            "the first controller's claim",
        )
        second = controller(tmp_path, fresh_broker, "second")
        assert second.wait(30) == 2, "a second controller of the site must refuse to start"
        refusal = (tmp_path / "second.log").read_text()
        assert "site twice: refused to start: another live controller runs it already" in refusal
        assert "'campusctl-twice'" in refusal, refusal
        assert first.poll() is None, "the first controller must keep running"
    finally:
        stop(first)


def test_a_claim_nobody_holds_any_more_is_taken_over_at_once(
    fresh_broker: Broker, tmp_path: Path
) -> None:
    """A claim left retained by a controller whose host vanished (its last will comes only
    after the keepalive) does not answer the ping: the next controller takes over."""
    (tmp_path / "campus.yaml").write_text(CAMPUS)
    (tmp_path / "rules.yaml").write_text(FAN_AND_LIGHT_RULES)
    stale = {"shard": "site", "buildings": ["b1"], "client_id": "campusctl-twice", "since": 1.0}
    publish.single(
        "campusctl/twice/shard/site",
        json.dumps(stale),
        qos=1,
        retain=True,
        hostname=fresh_broker.host,
        port=fresh_broker.port,
    )
    started = time.monotonic()
    proc = controller(tmp_path, fresh_broker, "after")
    try:
        wait_for_blocking(
            lambda: "claimed buildings" in (tmp_path / "after.log").read_text(),
            "the claim of the controller started after the vanished one",
        )
        assert time.monotonic() - started < 10
        assert "did not answer" in (tmp_path / "after.log").read_text()
        assert proc.poll() is None
    finally:
        stop(proc)


class Thief:
    """Another client with the controller's client id, reconnecting as fast as paho allows."""

    def __init__(self, broker: Broker, client_id: str, protocol: int) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol
        )
        self.client.reconnect_delay_set(0.05, 0.05)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
@run_async
async def test_a_connection_whose_client_id_is_taken_says_so_once_and_backs_off(
    fresh_broker: Broker, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = MqttSettings(
        url=fresh_broker.url, client_id="campusctl-taken", protocol=protocol, reconnect_max=3.0
    )
    async with MqttDriver(campus_of(1, "taken"), settings, WallClock()) as driver:
        await asyncio.wait_for(driver.wait_connected(), 10)
        caplog.set_level(logging.DEBUG, logger="campusctl.mqtt")
        thief = Thief(
            fresh_broker, "campusctl-taken", mqtt.MQTTv5 if protocol == "5" else mqtt.MQTTv311
        )
        try:
            await wait_for(lambda: driver.stats.taken_over == 1, "the take-over noticed", 15)
            connects = driver.stats.connects
            await asyncio.sleep(2.5)  # less than reconnect_max: at most one more attempt
            assert driver.stats.connects - connects <= 1, "it kept knocking the other off"
        finally:
            thief.close()
        said = [r for r in caplog.records if "another client uses the client id" in r.message]
        assert len(said) == 1, [r.message for r in caplog.records]
        assert "'campusctl-taken'" in said[0].message
        lost = [r for r in caplog.records if r.levelno >= logging.WARNING and "lost" in r.message]
        assert len(lost) <= 2, [r.message for r in lost]
