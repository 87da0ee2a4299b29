"""Run a simulated campus against a real MQTT broker.

paho-mqtt 2.x (callback API 2, MQTT 3.1.1 so the amqtt demo broker works too) runs its network
loop in its own thread and reconnects with backoff when the broker goes away. Everything that
touches the `World` runs on the asyncio loop: paho's callbacks only hand commands and connection
events over with `call_soon_threadsafe`, so the world needs no locks. TCP_NODELAY is set on the
socket because Nagle's algorithm otherwise dominates loopback latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from campus import wire
from campus.brokerurl import BrokerAddress
from campus.clock import Clock
from campus.mqttclient import paho_client
from simulators.fallback import FallbackSettings, Watchdog
from simulators.world import Publish, World

log = logging.getLogger("campusctl.sim")

SUBSCRIBE_CHUNK = 100
OFFLINE_TIMEOUT = 2.0
"""Seconds a clean stop waits for the broker to take the offline availability."""


class SimulatorRunner:
    """Steps a `World` on a clock and carries its messages to and from the broker.

    Every `step` simulated seconds the world is advanced to the clock's time and what its
    devices published is sent; commands are applied the moment they arrive and the device's new
    state goes out at once. On every (re)connection the devices announce themselves again
    (availability, actuator states, a sensor report), as a restarted Zigbee2MQTT would.
    """

    def __init__(
        self,
        world: World,
        clock: Clock,
        broker: BrokerAddress,
        *,
        step: float = 5.0,
        client_id: str | None = None,
        keepalive: int = 30,
        fallback: FallbackSettings | None = None,
    ) -> None:
        if step <= 0:
            raise ValueError(f"simulation step must be positive, got {step}")
        self.world = world
        self.clock = clock
        self.broker = broker
        self.step = step
        self.keepalive = keepalive
        self.client, self.broker = paho_client(
            broker, client_id or f"campusctl-sim-{world.campus.site.id}-{os.getpid()}", 30
        )
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.connected = asyncio.Event()
        buildings = [b.id for b in world.campus.buildings]
        self.watchdogs = (
            {} if fallback is None else {b: Watchdog(fallback, world.now, b) for b in buildings}
        )
        """Each building's heartbeat timer (simulators.fallback); none: devices never fall
        back."""
        self._heartbeats = wire.Topics(world.campus.site.id).every(wire.Kind.HEARTBEAT)
        self._stop = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def stop(self) -> None:
        """Ask `run` to finish: it publishes offline availability and disconnects."""
        self._stop.set()

    async def run(self) -> None:
        """Run until `stop()`."""
        self._loop = asyncio.get_running_loop()
        self.client.connect_async(self.broker.host, self.broker.port, self.keepalive)
        self.client.loop_start()
        stopped = asyncio.create_task(self._stop.wait())
        try:
            while not self._stop.is_set():
                due = asyncio.create_task(self.clock.sleep_until(self.world.now + self.step))
                await asyncio.wait({due, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not due.done():
                    due.cancel()
                    break
                self._publish(self.world.step(self.clock.now()))
                for building, dog in self.watchdogs.items():
                    if dog.due(self.world.now):
                        self._publish(self.world.fall_back(dog.settings.safe, building))
        finally:
            stopped.cancel()
            await self._shutdown()

    async def _shutdown(self) -> None:
        self._stopping = True
        if self.client.is_connected():
            infos = [self._send(m) for m in self.world.stop_messages()]
            await asyncio.to_thread(_wait_for_all, infos, OFFLINE_TIMEOUT)
        else:
            log.warning("stopping while disconnected: devices stay 'online' on the broker")
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)
        self.connected.clear()

    def _send(self, message: Publish) -> mqtt.MQTTMessageInfo:
        qos = 1 if message.retain else 0
        return self.client.publish(message.topic, message.payload, qos=qos, retain=message.retain)

    def _publish(self, messages: Iterable[Publish]) -> None:
        for message in messages:
            self._send(message)

    def _call(self, func: Callable[..., object], *args: object) -> None:
        """Run `func` on the asyncio loop (paho's callbacks come from its network thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(func, *args)

    def _connected(self) -> None:
        self._publish(self.world.start_messages())
        self.connected.set()

    def _disconnected(self) -> None:
        self.connected.clear()

    def _command(self, topic: str, payload: bytes) -> None:
        self._publish(self.world.on_message(topic, payload))

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.warning("broker %s refused the connection: %s", self.broker, reason_code)
            return
        log.info("connected to %s", self.broker)
        topics = self.world.command_topics()
        if self.watchdogs:
            topics = [*topics, self._heartbeats]  # the site's and every shard's
        for i in range(0, len(topics), SUBSCRIBE_CHUNK):
            client.subscribe([(t, 1) for t in topics[i : i + SUBSCRIBE_CHUNK]])
        self._call(self._connected)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.warning("cannot reach broker %s; retrying", self.broker)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._stopping:
            log.info("disconnected from %s", self.broker)
        else:
            log.warning("lost broker %s (%s); reconnecting", self.broker, reason_code)
        self._call(self._disconnected)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        parsed = wire.parse_topic(message.topic)
        if parsed is not None and parsed.kind is wire.Kind.HEARTBEAT:
            self._call(self._heartbeat, bytes(message.payload), bool(message.retain))
            return
        self._call(self._command, message.topic, bytes(message.payload))

    def _heartbeat(self, payload: bytes, retained: bool) -> None:
        now = self.clock.now()
        for dog in self.watchdogs.values():
            dog.heartbeat(now, payload, retained)


def _wait_for_all(infos: list[mqtt.MQTTMessageInfo], timeout: float) -> None:
    """Wait until the broker has every message, or `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    with contextlib.suppress(RuntimeError, ValueError):
        for info in infos:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
