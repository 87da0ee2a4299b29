"""How the control plane's messages reach a real broker: retained state at QoS 0 and answers at
QoS 1, a room's state soon after a reading, the final state on stop, everything again after the
connection dropped."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from controller.controlplane import ControlPlane
from drivers.mqtt import MqttDriver
from tests.controlplane.harness import PlaneClient, RunningCampus, running_campus, unique_site
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt

LONG = 3600.0
"""A room interval under which a room, once published, is not published again in a test."""


def device(broker: Broker) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def send_co2(client: mqtt.Client, room: str, co2: float) -> None:
    message = json.dumps({"co2": co2, "occupancy": False})
    client.publish(f"zigbee2mqtt/main-{room}-multisensor", message, qos=1).wait_for_publish(5)


async def held_back(plane: ControlPlane, room_id: str) -> None:
    """Wait until `room_id` was published under the LONG interval (so only a flush publishes it
    again)."""
    await wait_for(
        lambda: (plane.pacing.cool_until(room_id) or 0.0) > time.monotonic() + LONG / 2,
        f"{room_id} published and then held back",
    )


def hold_rooms_back(campus: RunningCampus) -> ControlPlane:
    plane = campus.plane
    plane.pacing.interval = LONG  # from the next room published on
    return plane


@run_async
async def test_retained_state_arrives_at_qos0_and_answers_at_qos1(
    broker: Broker, tmp_path: Path
) -> None:
    site = unique_site()
    client = PlaneClient(broker, site)  # subscribed before the start-up's events go out
    async with running_campus(broker, tmp_path, site=site):
        try:
            retained = ("campus", "controller", "rules", "alarms", "room/main/r101")
            for topic in retained:
                await wait_for(lambda topic=topic: client.latest(topic), topic)
            answer = await client.request("explain", {"target": "main.r101.lights"})
            assert answer["status"] == "ok"
            await wait_for(lambda: client.on("events"), "an event")
            qos = {topic: client.qos[f"{client.base}/{topic}"] for topic in retained}
            assert qos == {
                "campus": 1,
                "controller": 0,
                "rules": 0,
                "alarms": 0,
                "room/main/r101": 0,
            }
            assert client.qos[f"{client.base}/response/explain"] == 1
            # alarms at QoS 1 (a district's bridge keeps them; audits: test_requests.py), the
            # rest at 0
            await wait_for(lambda: "alarm" in client.event_qos, "an alarm event")
            assert client.event_qos["alarm"] == {1}
            assert client.event_qos.get("command", {0}) == {0}
            assert client.event_qos.get("transition", {0}) == {0}
        finally:
            client.close()


@run_async
async def test_a_reading_reaches_its_room_state_within_the_interval(
    broker: Broker, tmp_path: Path
) -> None:
    async with running_campus(broker, tmp_path) as campus:
        client = PlaneClient(broker, campus.site)
        sensor = device(broker)
        interval = campus.plane.settings.room_interval
        try:
            await wait_for(lambda: client.latest("room/main/r102"), "r102's first state")
            for co2 in (4321.0, 4322.0, 4323.0):
                sent_at = campus.clock.now()
                started = time.monotonic()
                send_co2(sensor, "r102", co2)

                def shows_it(sent_at: float = sent_at) -> bool:
                    state = client.latest("room/main/r102")
                    return bool(state) and (state["points"]["co2"]["ts"] or 0.0) >= sent_at

                await wait_for(shows_it, f"r102's state after co2={co2:g}", 5)
                took = time.monotonic() - started
                assert took <= interval + 0.6, f"r102's state came {took:.2f} s after a reading"
                await asyncio.sleep(0.3 * (co2 - 4320))  # also when the room was just published
        finally:
            sensor.loop_stop()
            sensor.disconnect()
            client.close()


@run_async
async def test_the_final_state_is_retained_when_the_controller_stops(
    broker: Broker, tmp_path: Path
) -> None:
    sensor = device(broker)
    try:
        async with running_campus(broker, tmp_path) as campus:
            plane = hold_rooms_back(campus)
            send_co2(sensor, "r103", 1234.0)
            await held_back(plane, "main.r103")
            sent_at = campus.clock.now()
            send_co2(sensor, "r103", 4321.0)
            await wait_for(
                lambda: getattr(plane.last("main.r103.co2"), "ts", 0.0) >= sent_at,
                "the plane saw co2=4321",
            )
            await asyncio.sleep(0.3)  # ticks that must not publish r103 (it is cooling)
            cooling = plane.pacing.cool_until("main.r103") or 0.0
            assert cooling > time.monotonic(), "it must wait for the stop"
            stopping = campus.clock.now()
        seen = plane.last("main.r103.co2")
        assert seen is not None
        final = seen.value
        client = PlaneClient(broker, campus.site)
        try:
            await wait_for(lambda: client.latest("room/main/r103"), "r103's retained state")
            state = client.latest("room/main/r103")
            assert state["ts"] >= stopping, "the retained state is not the one published on stop"
            assert state["points"]["co2"]["value"] == final
            assert client.retained[f"{client.base}/status"] == b"offline"
        finally:
            client.close()
    finally:
        sensor.loop_stop()
        sensor.disconnect()


@run_async
async def test_after_the_connection_drops_every_room_is_published_again(
    broker: Broker, tmp_path: Path
) -> None:
    """The broker kept its retained messages but the controller cannot know: after any
    reconnect it publishes all of them again, rooms held back by their interval included."""
    sensor = device(broker)
    async with running_campus(broker, tmp_path) as campus:
        plane = hold_rooms_back(campus)
        driver = campus.controller.driver("mqtt")
        assert isinstance(driver, MqttDriver)
        send_co2(sensor, "r101", 1234.0)
        await held_back(plane, "main.r101")
        client = PlaneClient(broker, campus.site)
        topic = f"{client.base}/room/main/r101"
        try:
            await wait_for(lambda: client.latest("room/main/r101"), "r101's retained state")
            client.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
            await wait_for(lambda: client.retained[topic] == b"", "r101's state cleared")
            connects = driver.stats.connects
            # a client with the controller's id makes the broker drop the controller
            kicker = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=driver.client_id, protocol=mqtt.MQTTv311
            )
            kicker.connect(broker.host, broker.port)
            kicker.loop_start()
            await wait_for(lambda: not driver.connected, "the controller dropped")
            kicker.disconnect()
            kicker.loop_stop()
            await wait_for(lambda: driver.stats.connects > connects, "the controller back")
            await wait_for(lambda: client.latest("room/main/r101"), "r101's state again", 5)
            assert (plane.pacing.cool_until("main.r101") or 0.0) > time.monotonic() + LONG / 2
        finally:
            client.close()
            sensor.loop_stop()
            sensor.disconnect()
