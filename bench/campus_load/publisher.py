"""A publisher process: some of the rooms, published with paho-mqtt's public API, open loop.

The generator starts a few of these (`spawn`), each with its own connection and its own share
of the rooms, so a room's readings always come in order from one client, as from one gateway.
Each reading is a ``client.publish(topic, payload, qos=0)`` with no network thread: paho frames
the packet and writes it at once, one system call per reading (TCP_NODELAY), as a gateway
publishing device by device does. A step's payloads (and the commands each must cause) are
made before it starts, so that making them does not take CPU from the engine during the step.
Pacing: at most every TICK the publisher wakes and sends what is due at the rate so far, never
more (a back-to-back pair waits until both readings are due); if it falls behind it catches up
as fast as it can, and the step's achieved rate says so. Every reading is stamped with
`time.monotonic()` (CLOCK_MONOTONIC, the same clock in every process) just before its publish,
and the commands it must cause go back to the generator with that stamp.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.campus_load.workload import Sent, Workload

TICK = 0.001
"""The shortest pause between two wake-ups (at low rates, it wakes when the next reading is due)."""
HOUSEKEEPING = 0.1
"""Seconds between two runs of paho's loop (keepalive, and the wake-up bytes of its publish)."""
Expected = tuple[str, bool, float]
"""A command that must arrive: its topic, ON or OFF, and when its reading was published."""


@dataclass(frozen=True)
class Step:
    """Make `count` readings, say "prepared", and publish them at `rate` readings per second from
    the time.monotonic() the generator sends next (the same moment for every publisher)."""

    rate: float
    count: int


@dataclass(frozen=True)
class Prime:
    """One reading per room (`Workload.prime`), or a vacant one first (`Workload.reset`)."""

    rate: float
    reset: bool


@dataclass(frozen=True)
class Published:
    sent: int
    began: float
    finished: float
    expected: list[Expected]


def connect(port: int, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)

    def nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    client.on_socket_open = nodelay
    client.connect("127.0.0.1", port, keepalive=60)
    deadline = time.monotonic() + 10
    while not client.is_connected():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the publisher could not connect to 127.0.0.1:{port}")
        client.loop(timeout=0.05)
    return client


def publish(
    client: mqtt.Client, messages: list[list[Sent]], rate: float, start_at: float
) -> Published:
    """Publish every reading of `messages` at `rate` readings per second from `start_at`."""
    expected: list[Expected] = []
    send = client.publish
    stamp = time.monotonic
    while stamp() < start_at:
        time.sleep(min(0.001, max(0.0, start_at - stamp())))
    began = wake = stamp()
    housekeeping = began + HOUSEKEEPING
    sent = 0
    pending = iter(messages)
    message = next(pending, None)
    while message is not None:
        due = int(rate * (stamp() - began)) + 1
        while message is not None and sent + len(message) <= due:
            for reading in message:
                at = stamp()
                send(reading.topic, reading.payload, 0)
                for topic, on in reading.commands:
                    expected.append((topic, on, at))
            sent += len(message)
            message = next(pending, None)
        now = stamp()
        if now >= housekeeping:
            client.loop(timeout=0)
            housekeeping = now + HOUSEKEEPING
        if message is not None:
            wake = max(wake + TICK, began + (sent + len(message) - 1) / rate)
            if wake > now:
                time.sleep(wake - now)
    return Published(sent, began, stamp(), expected)


def serve(conn: Connection, port: int, index: int, rooms: list[int], seed: int) -> None:
    """The process's body: connect, say "ready", then run each `Step` or `Prime` the generator
    sends and answer with what was `Published`, until it sends None."""
    client = connect(port, f"bench-publisher-{index}")
    workload = Workload(rooms, seed)
    conn.send("ready")
    try:
        while (order := conn.recv()) is not None:
            if isinstance(order, Step):
                messages = workload.messages(order.count)
                conn.send("prepared")
                conn.send(publish(client, messages, order.rate, conn.recv()))
            else:
                readings = workload.reset() if order.reset else workload.prime()
                messages = [[reading] for reading in readings]
                conn.send(publish(client, messages, order.rate, 0.0))
    finally:
        client.disconnect()
