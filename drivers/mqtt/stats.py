"""Counters the driver keeps for the TUI, the benchmarks and the tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class MqttStats:
    """Updated on the event loop by the driver and its connection; read them from the event
    loop too."""

    connected: bool = False
    connects: int = 0
    """Successful connections (CONNACK accepted), the first one included."""
    disconnects: int = 0
    """Connections lost or closed after having been established."""
    taken_over: int = 0
    """Times the broker closed the connection for another client with the same client id
    (said so, MQTT 5, or did it three times in a row right after accepting it)."""
    connect_failures: int = 0
    """Attempts that did not get a connection (refused, unreachable, rejected CONNACK)."""
    messages: int = 0
    """Messages received on any subscribed topic."""
    publishes_received: int = 0
    """PUBLISH packets received on either path, those on a topic that is not UTF-8 included."""
    publishes_received_fast: int = 0
    """Of `publishes_received`, those the fast path read itself (paho's path read the rest)."""
    pubacks_received_fast: int = 0
    """PUBACKs the fast path read itself and entered in paho's books (paho read the rest)."""
    lingers: int = 0
    """Times the connection waited `MqttSettings.read_linger` before reading again, to read
    messages that came fast in one batch (drivers/mqtt/readpacing.py)."""
    readings: int = 0
    """Readings handed to `MqttDriver.readings`."""
    bad_payloads: Counter[str] = field(default_factory=Counter)
    """By `Fault` value: not_json, not_object, wrong_type, implausible, bad_availability."""
    unmatched: int = 0
    """Messages on topics nothing is bound to (stray retained messages, say)."""
    missing_key_warnings: int = 0
    commands_sent: int = 0
    """Commands handed to the connection."""
    commands_held: int = 0
    """Commands that had to wait: disconnected, or the window of commands in flight full."""
    commands_superseded: int = 0
    """Waiting commands replaced by a newer one for the same actuator (only the latest is sent)."""
    published: int = 0
    publish_dropped: int = 0
    """`publish` calls lost: QoS 0 while disconnected, or beyond `max_queued`."""
    callback_errors: int = 0
    """Exceptions caught in callbacks (ours or an extra subscription's): bugs to look at."""
