"""What the control plane publishes on a real broker: retained campus, rooms, rules, alarms,
the controller heartbeat and the event stream (each event with its own id), paced per room."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.controlplane.harness import PlaneClient, running_campus, unique_site
from tests.support.aio import run_async
from tests.support.mosquitto import Broker, free_port, running_mosquitto
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt


@run_async
async def test_retained_state_describes_the_campus_its_rooms_rules_and_alarms(
    broker: Broker, tmp_path: Path
) -> None:
    async with running_campus(broker, tmp_path) as campus:
        client = PlaneClient(broker, campus.site)
        try:
            await wait_for(
                lambda: (
                    (client.latest("room/main/r101") or {})
                    .get("points", {})
                    .get("co2", {})
                    .get("value")
                    is not None
                ),
                "a CO2 value in r101's retained state",
            )
            description = client.latest("campus")
            assert description["site"]["id"] == campus.site
            rooms = [r["id"] for b in description["buildings"] for r in b["rooms"]]
            assert rooms == [r.id for r in campus.campus.rooms]
            r101 = description["buildings"][0]["rooms"][0]
            assert r101["points"]["co2"] == {
                "name": "co2",
                "type": "number",
                "unit": "ppm",
                "range": [250, 10000],
                "stale_after": 600,
            }
            assert r101["actuators"]["lights"]["type"] == "switch"

            state = client.latest("room/main/r101")
            co2 = state["points"]["co2"]
            assert co2["unit"] == "ppm"
            assert co2["quality"] == "good"
            assert 300 < co2["value"] < 2000
            assert co2["age"] >= 0
            lights = state["actuators"]["lights"]
            assert lights["holders"][-1]["source"] == "default"
            assert lights["level"] in ("default", "comfort")
            assert {i["rule"] for i in state["rules"]} >= {
                "lights-on-when-occupied-and-dark",
                "ventilate-in-proportion",
            }

            info = client.latest("controller")
            assert info["site"] == campus.site
            assert info["speed"] == 30.0
            assert abs(info["now"] - campus.clock.now()) < 30 * 10

            await wait_for(
                lambda: client.latest("alarms") and client.latest("alarms")["alarms"],
                "the test alarm",
            )
            alarm = client.latest("alarms")["alarms"][0]
            assert alarm["rule"] == "co2-watch"
            assert alarm["message"].startswith("CO2 ")
            rules = {r["id"]: r for r in client.latest("rules")["rules"]}
            assert rules["co2-watch"]["enabled"] is True
            assert rules["co2-watch"]["alarm"] == "warning"
            assert len(rules["ventilate-in-proportion"]["rooms"]) == 8
            assert client.retained[f"{client.base}/status"] == b"online"
        finally:
            client.close()


@run_async
async def test_event_stream_carries_commands_with_reasons_and_transitions(
    broker: Broker, tmp_path: Path
) -> None:
    site = unique_site()
    client = PlaneClient(broker, site)
    async with running_campus(broker, tmp_path, site=site):
        try:
            await wait_for(
                lambda: any(e["type"] == "command" for e in client.on("events")),
                "a command on the event stream",
            )
            command = next(e for e in client.on("events") if e["type"] == "command")
            assert command["actuator"].startswith(command["room"] + ".")
            assert command["reason"]
            assert command["source"]
            await wait_for(
                lambda: any(e["type"] == "transition" for e in client.on("events")),
                "a rule transition on the event stream",
            )
            transition = next(e for e in client.on("events") if e["type"] == "transition")
            assert transition["rule"] == "co2-watch"
            assert transition["new_state"] == "active"
            assert transition["cause"]

            answer = await client.request("events", {"limit": 500})
            live = {e["event_id"]: e for e in client.on("events")}
            assert len(live) == len(client.on("events")), "an id given twice"
            assert len({i.rpartition("-")[0] for i in live}) == 1, "one prefix per process"
            fetched = answer["data"]["events"]
            assert fetched, answer
            assert all(live[e["event_id"]] == e for e in fetched), "the same event, the same id"
        finally:
            client.close()


@run_async
async def test_a_flood_of_readings_is_published_at_most_once_a_second_per_room(
    broker: Broker, tmp_path: Path
) -> None:
    async with running_campus(broker, tmp_path) as campus:
        client = PlaneClient(broker, campus.site)
        flood = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        flood.connect(broker.host, broker.port)
        flood.loop_start()
        try:
            await wait_for(
                lambda: campus.plane.topics.site and client.on("room/main/r102"),
                "r102's first state",
            )
            before = len(client.on("room/main/r102"))
            stats = campus.controller.rooms["main.r102"]
            readings_before = stats.readings
            started = time.monotonic()
            for i in range(2000):
                message = {"co2": 5000 + i, "occupancy": False}
                flood.publish("zigbee2mqtt/main-r102-multisensor", json.dumps(message))
                if i % 100 == 99:
                    await asyncio.sleep(0.1)
            await wait_for(
                lambda: stats.readings >= readings_before + 2 * 2000, "every flood reading"
            )

            def flood_value_published() -> bool:
                states = client.on("room/main/r102")[before:]
                return any(5000 <= s["points"]["co2"]["value"] < 7000 for s in states)

            await wait_for(flood_value_published, "a flood value in r102's retained state")
            elapsed = time.monotonic() - started
            published = len(client.on("room/main/r102")) - before
            assert published <= elapsed / campus.plane.settings.room_interval + 2, (
                f"{published} state messages for 2000 readings in {elapsed:.2f} s"
            )
        finally:
            flood.loop_stop()
            flood.disconnect()
            client.close()


@run_async
async def test_retained_state_is_published_again_after_the_broker_restarts(
    tmp_path: Path,
) -> None:
    """A broker restarted without persistence has forgotten every retained message."""
    port = free_port()
    first = running_mosquitto(tmp_path / "first", port)
    broker = first.__enter__()
    stopped = False
    try:
        async with running_campus(broker, tmp_path) as campus:
            client = PlaneClient(broker, campus.site)
            await wait_for(lambda: client.latest("room/main/r101"), "r101's state")
            client.close()
            first.__exit__(None, None, None)
            stopped = True
            with running_mosquitto(tmp_path / "second", port) as again:
                client = PlaneClient(again, campus.site)
                try:
                    for topic in ("campus", "controller", "rules", "alarms", "room/science/lab1"):
                        await wait_for(
                            lambda topic=topic: client.latest(topic), f"{topic} again", 20
                        )
                finally:
                    client.close()
    finally:
        if not stopped:
            first.__exit__(None, None, None)
