"""Test helpers: async tests without a plugin, waiting on conditions, a paho peer client."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from campus.types import Reading
from drivers.mqtt import MqttDriver

P = ParamSpec("P")
_ids = itertools.count()


async def readings_until(
    driver: MqttDriver, predicate: Callable[[list[Reading]], bool], within: float = 5.0
) -> list[Reading]:
    """Collect reading batches until `predicate(all so far)` holds."""
    seen: list[Reading] = []
    try:
        async with asyncio.timeout(within):
            while not predicate(seen):
                for message in await driver.readings.get():
                    seen.extend(message)
    except TimeoutError:
        raise AssertionError(f"timed out after {within} s; readings so far: {seen}") from None
    return seen


def by_point(readings: list[Reading]) -> dict[str, Reading]:
    """The latest reading per point."""
    return {r.point: r for r in readings}


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Peer:
    """A plain paho client in its own thread: the devices, or another tool, on the broker."""

    def __init__(self, host: str, port: int) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._acks: dict[int, threading.Event] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"peer-{next(_ids)}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect(host, port, keepalive=10)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append(Received(msg.topic, bytes(msg.payload), msg.qos, msg.retain))

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, *args: Any) -> None:
        with self._lock:
            event = self._acks.setdefault(mid, threading.Event())
        event.set()

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe and wait for the broker's SUBACK."""
        with self._lock:
            rc, mid = self.client.subscribe(topic, qos)
            assert rc == mqtt.MQTT_ERR_SUCCESS
            assert mid is not None
            event = self._acks.setdefault(mid, threading.Event())
        assert event.wait(5), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait until the broker has it (QoS 1 by default, so order is kept)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(5)
        assert info.is_published(), f"publish to {topic} not acknowledged"

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [m for m in self.received if m.topic == topic]

    def payloads(self, topic: str) -> list[bytes]:
        return [m.payload for m in self.on(topic)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
