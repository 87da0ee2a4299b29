"""The actuators' side of a test: a paho client that records every command it is sent."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mosquitto import Broker

_ids = itertools.count()


class CommandRecorder:
    """Subscribed (QoS 1, so the commands' own QoS shows) to ``zigbee2mqtt/+/set`` in its own
    thread: every command as (topic, payload, qos), in arrival order. `session`: the name of a
    session the broker keeps while the recorder is away (a later recorder of that name takes it
    up); none by default."""

    def __init__(self, broker: Broker, session: str = "") -> None:
        self.got: list[tuple[str, bytes, int]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"devices-{session or next(_ids)}",
            clean_session=not session,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.subscribe("zigbee2mqtt/+/set", qos=1)
        self.client.loop_start()
        assert subscribed.wait(5), "no SUBACK"

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.got.append((msg.topic, bytes(msg.payload), msg.qos))

    def count(self) -> int:
        with self._lock:
            return len(self.got)

    def since(self, start: int) -> list[tuple[str, bytes, int]]:
        with self._lock:
            return self.got[start:]

    def by_topic(self) -> dict[str, list[tuple[bytes, int]]]:
        """Each topic's commands (payload, qos), in order."""
        with self._lock:
            found: dict[str, list[tuple[bytes, int]]] = {}
            for topic, payload, qos in self.got:
                found.setdefault(topic, []).append((payload, qos))
            return found

    def topics(self) -> int:
        with self._lock:
            return len({topic for topic, _, _ in self.got})

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
