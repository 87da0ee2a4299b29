"""campus.mqttclient: the one paho client factory, against a real Mosquitto."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from campus.brokerurl import BrokerAddress, parse_broker_url
from campus.mqttclient import LastWill, paho_client
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for_blocking

pytestmark = pytest.mark.mqtt

_ids = itertools.count(1)


@contextmanager
def _session(client: mqtt.Client, address: BrokerAddress, **connect: Any) -> Iterator[None]:
    """`client` connected (CONNACK received) with its network thread running."""
    answered = threading.Event()
    client.on_connect = lambda *_: answered.set()
    client.connect(address.host, address.port, 30, **connect)
    client.loop_start()
    try:
        assert answered.wait(10), "no CONNACK"
        yield
    finally:
        client.disconnect()
        client.loop_stop()


@contextmanager
def _watching(address: BrokerAddress, topic: str) -> Iterator[list[tuple[bytes, bool]]]:
    """What arrives on `topic` as (payload, retained), from a client made with the defaults."""
    received: list[tuple[bytes, bool]] = []
    watcher, _ = paho_client(address, f"mqttclient-{next(_ids)}", 1)
    assert watcher.protocol == MQTTProtocolVersion.MQTTv311
    watcher.on_message = lambda c, u, m: received.append((bytes(m.payload), m.retain))
    subscribed = threading.Event()
    watcher.on_subscribe = lambda *_: subscribed.set()
    with _session(watcher, address):
        watcher.subscribe(topic, qos=1)
        assert subscribed.wait(10), "no SUBACK"
        yield received


def test_tcp_nodelay_is_set_before_the_callers_socket_callback(broker: Broker) -> None:
    address = parse_broker_url(broker.url)
    seen: list[int] = []

    def opened(client: mqtt.Client, userdata: Any, sock: Any) -> None:
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    client, _ = paho_client(address, f"mqttclient-{next(_ids)}", 1, on_socket_open=opened)
    with _session(client, address):
        pass
    assert len(seen) == 1
    assert seen[0] != 0


def test_the_will_of_a_v5_client_that_drops_is_published_retained(broker: Broker) -> None:
    address = parse_broker_url(broker.url)
    topic = f"test/mqttclient/{next(_ids)}/status"
    client, _ = paho_client(
        address, f"mqttclient-{next(_ids)}", None, protocol="5", will=LastWill(topic, b"offline")
    )
    assert client.protocol == MQTTProtocolVersion.MQTTv5
    with _watching(address, topic) as live:
        with _session(client, address, clean_start=True):
            sock = client.socket()
            assert isinstance(sock, socket.socket)
            sock.close()  # gone without a DISCONNECT: the broker sends the will
        wait_for_blocking(lambda: live, "the will")
        assert live == [(b"offline", False)]
    with _watching(address, topic) as retained:
        wait_for_blocking(lambda: retained, "the retained will")
        assert retained == [(b"offline", True)]
    cleaner, _ = paho_client(address, f"mqttclient-{next(_ids)}", 1)
    with _session(cleaner, address):
        cleaner.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
