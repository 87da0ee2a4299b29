"""The paho-mqtt client every tool connects with: the simulator, the TUI, the rules commands
(`rules explain` asking a running controller) and the shard claims (the controller's driver has
its own, event-loop-driven one: drivers/mqtt/connection.py). MQTT 3.1.1 so the demo's amqtt
broker works too; credentials (password files included) and TLS from the broker URL; and
TCP_NODELAY, without which Nagle's algorithm dominates loopback latency."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from campus.broker import BrokerAddress
from campus.secrets import broker_credentials


def paho_client(
    broker: BrokerAddress, client_id: str, reconnect_max: int
) -> tuple[mqtt.Client, BrokerAddress]:
    """A configured, unconnected client, and `broker` with its password filled in.

    Raises SecretError for a password file that cannot be read.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    broker = broker_credentials(broker)
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    tls = broker.ssl_context()
    if tls is not None:
        client.tls_set_context(tls)
    client.reconnect_delay_set(1, reconnect_max)
    client.on_socket_open = _no_delay
    return client, broker


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
