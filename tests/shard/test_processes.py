"""Three `campusctl run --shard` processes on one Mosquitto with the simulator in the test.

Shard b1 and shard b2,b3 split the campus; each commands only its own buildings' devices, b1's
rules read a b3 sensor by full id (owned by the other shard), every room's state and both alarm
lists are retained where a TUI finds them, and a third process claiming b3 is refused while
b2,b3 lives. What is lost: nothing (no building is left without a controller, none has two).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from campus import wire
from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from controller.children import stop_child
from simulators.mqtt import SimulatorRunner
from simulators.world import World
from tests.shard.campus_fixture import CAMPUS, RULES
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for
from tui.state import SiteState

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[2]
SPEED = 60.0
START = "2026-11-23 08:08"
"""The purge window (ventilation 40 everywhere) opens at 08:10: two wall seconds later."""
COMMAND = re.compile(r"campusctl\.controller: (\S+) -> ")


def shard_process(
    folder: Path, url: str, clock: ScaledClock, shard: str
) -> subprocess.Popen[bytes]:
    log = (folder / f"shard-{shard}.log").open("wb")
    command = [
        sys.executable, "-m", "controller.cli", "--log-level", "debug", "run",
        "--config", str(folder / "campus.yaml"), "--rules", str(folder / "rules.yaml"),
        "--broker", url, "--state", str(folder / f"state-{shard}.sqlite"),
        "--start", repr(clock.start), "--speed", repr(clock.speed),
        "--clock-anchor", repr(clock.anchor),
        "--no-discovery", "--watch-rules", "0", "--settle", "2", "--heartbeat", "0",
        "--shard", shard,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)


def commanded(folder: Path, shard: str) -> set[str]:
    text = (folder / f"shard-{shard}.log").read_text()
    return set(COMMAND.findall(text))


def retained(url: str, site: str) -> dict[str, bytes]:
    """The retained control-plane messages a client (a TUI) gets on connecting: all of them
    arrive before the answer to a probe published after subscribing."""
    address = parse_broker_url(url)
    got: dict[str, bytes] = {}
    probe = f"campusctl/{site}/test-probe"
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, m: mqtt.MQTTMessage) -> None:
        if m.topic == probe:
            done.set()
        else:
            got[m.topic] = bytes(m.payload)

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        client.subscribe(f"campusctl/{site}/#", qos=1)
        assert subscribed.wait(10), "no SUBACK"
        client.publish(probe, b"", qos=1)
        assert done.wait(10), "the probe did not come back"
    finally:
        client.disconnect()
        client.loop_stop()
    return got


def override(url: str, actuator: str) -> list[dict[str, object]]:
    """Send an override request; the answers for its transaction by the time a probe sent
    after the first answer comes back (with every shard answering, the second answer came in
    before the probe in every run tried: the test fails without controller.shard.answers)."""
    address = parse_broker_url(url)
    answers: list[dict[str, object]] = []
    first = threading.Event()
    probed = threading.Event()
    subscribed = threading.Event()
    probe = "campusctl/shardtest/test-probe"

    def on_message(client: mqtt.Client, userdata: object, m: mqtt.MQTTMessage) -> None:
        if m.topic == probe:
            probed.set()
            return
        answer = json.loads(m.payload)
        if answer.get("transaction") == "t1":
            answers.append(answer)
            first.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        client.subscribe([("campusctl/shardtest/response/override", 1), (probe, 1)])
        assert subscribed.wait(10), "no SUBACK"
        request = {"actuator": actuator, "value": "on", "duration": "10m", "user": "t"}
        body = json.dumps({**request, "transaction": "t1"})
        client.publish("campusctl/shardtest/request/override", body, qos=1)
        assert first.wait(10), "no answer to the override"
        client.publish(probe, b"", qos=1)
        assert probed.wait(10), "the probe did not come back"
    finally:
        client.disconnect()
        client.loop_stop()
    return answers


def tui_view(got: dict[str, bytes]) -> SiteState:
    """The site as the TUI's state builds it from the retained messages."""
    site = SiteState("shardtest")
    for topic, payload in got.items():
        parsed = wire.parse_topic(topic)
        if payload and parsed is not None and parsed.kind is wire.Kind.STATUS:
            site.apply(topic, payload.decode())
        elif payload:
            site.apply(topic, json.loads(payload))
    return site


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        stop_child(proc, 10)


def test_shards_split_the_campus_and_refuse_a_second_owner(
    fresh_broker: Broker, tmp_path: Path
) -> None:
    (tmp_path / "campus.yaml").write_text(CAMPUS)
    (tmp_path / "rules.yaml").write_text(RULES)
    campus = load_campus(tmp_path / "campus.yaml")
    clock = ScaledClock(parse_start(START, campus.site.timezone), SPEED)
    url = fresh_broker.url
    first = shard_process(tmp_path, url, clock, "b1")
    second = shard_process(tmp_path, url, clock, "b2,b3")
    try:
        asyncio.run(_scenario(tmp_path, url, clock, campus, [first, second]))
        third = shard_process(tmp_path, url, clock, "b3")
        assert third.wait(30) == 2, "a second owner of b3 must refuse to start"
        refusal = (tmp_path / "shard-b3.log").read_text()
        assert "b3 already owned by live shard b2-b3" in refusal, refusal
        assert first.poll() is None
        assert second.poll() is None
    finally:
        for proc in (first, second):
            stop(proc)
    mine = commanded(tmp_path, "b1")
    assert mine
    assert all(a.startswith("b1.") for a in mine), mine
    others = commanded(tmp_path, "b2,b3")
    assert others
    assert all(a.startswith(("b2.", "b3.")) for a in others), others
    after = retained(url, campus.site.id)
    assert not any(t.startswith("campusctl/shardtest/shard/") and p for t, p in after.items()), (
        "a cleanly stopped shard must clear its claim"
    )


async def _scenario(
    folder: Path,
    url: str,
    clock: ScaledClock,
    campus: object,
    procs: list[subprocess.Popen[bytes]],
) -> None:
    from campus.model import Campus

    assert isinstance(campus, Campus)
    world = World(campus, seed=3, start=clock.now())
    simulator = SimulatorRunner(world, clock, parse_broker_url(url), step=5.0)
    task = asyncio.create_task(simulator.run())
    try:

        def all_purged() -> bool:
            assert all(p.poll() is None for p in procs), "a shard stopped"
            return all(abs(t.ventilation - 0.4) < 0.005 for t in world.truths().values())

        await wait_for(all_purged, "every room's fan at 40 % (each building commanded)")
        b1_lights = [world.truth(r.id).lights for r in campus.rooms if r.building == "b1"]
        await wait_for(
            lambda: all(world.truth(f"b1.r10{i}").lights > 0 for i in (1, 2)),
            f"b1's lights on from b3's sensor read across shards (were {b1_lights})",
        )
        assert all(world.truth(r.id).lights == 0 for r in campus.rooms if r.building != "b1")
        answered = await asyncio.to_thread(override, url, "b2.r201.lights")
        assert answered == [
            {"status": "ok", "data": answered[0]["data"], "error": None, "transaction": "t1"}
        ]
        await wait_for(lambda: world.truth("b2.r201").lights > 0, "b2's owner to apply it")
        every = {room.id for room in campus.rooms}
        end = time.monotonic() + 20
        while True:
            got = await asyncio.to_thread(retained, url, campus.site.id)
            site = tui_view(got)
            if {a.room for a in site.alarms} == every or time.monotonic() > end:
                break
            await asyncio.sleep(0.2)
    finally:
        simulator.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    claims = {
        t: json.loads(p) for t, p in got.items() if t.startswith("campusctl/shardtest/shard/")
    }
    assert claims == {
        "campusctl/shardtest/shard/b1": claims["campusctl/shardtest/shard/b1"],
        "campusctl/shardtest/shard/b2-b3": claims["campusctl/shardtest/shard/b2-b3"],
    }
    assert claims["campusctl/shardtest/shard/b2-b3"]["buildings"] == ["b2", "b3"]
    assert claims["campusctl/shardtest/shard/b1"]["client_id"] == "campusctl-shardtest-b1"
    assert set(site.rooms) == every, "the TUI must see the whole campus"
    assert set(site.room_states) == every
    assert set(site.alarm_lists) == {"b1", "b2-b3"}
    assert {a.room for a in site.alarms} == every, site.alarms
    # each shard its own status, controller and rules topics; readers merge them
    for kind in ("status", "controller", "rules", "heartbeat"):
        assert f"campusctl/shardtest/{kind}" not in got, f"a shard wrote the site's {kind}"
    assert set(site.statuses) == set(site.controllers) == set(site.rule_lists) == {"b1", "b2-b3"}
    assert site.online is True
    assert site.controller is not None
    assert site.controller.rooms == len(every)
    purge = next(r for r in site.rules if r.id == "purge-before-lessons")
    assert sum(purge.states.values()) == len(every), purge.states
    assert sorted(purge.rooms) == sorted(every)
