"""The paho-mqtt client every campusctl program connects with: the controller's MQTT driver
(drivers/mqtt/connection.py, which drives it from the event loop), the simulator, the TUI, the
rules commands (`rules explain` asking a running controller) and the shard claims.

What a connection to the campus broker is gets decided here once: MQTT 3.1.1 unless 5 is asked
for (3.1.1 so the demo's amqtt broker works too), a clean session, the client id, credentials
(password files included) and TLS from the broker URL, an optional last will, and TCP_NODELAY,
without which Nagle's algorithm dominates loopback latency.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from campus.brokerurl import BrokerAddress
from campus.secrets import broker_credentials

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike

MqttProtocol = Literal["3.1.1", "5"]

SocketOpened = Callable[[mqtt.Client, Any, "SocketLike"], None]
"""paho's ``on_socket_open`` callback: (client, userdata, socket)."""


@dataclass(frozen=True, slots=True)
class LastWill:
    """What the broker publishes for a client that goes away without disconnecting."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def paho_client(
    broker: BrokerAddress,
    client_id: str,
    reconnect_max: int | None,
    *,
    protocol: MqttProtocol = "3.1.1",
    will: LastWill | None = None,
    on_socket_open: SocketOpened | None = None,
) -> tuple[mqtt.Client, BrokerAddress]:
    """A configured, unconnected client with a clean session, and `broker` with its password
    filled in.

    `reconnect_max`: paho's network loop (``loop_start``, ``loop_forever``) reconnects by
    itself, 1 s after a failure and backing off up to this many seconds; None: paho never
    does, the caller reconnects (the driver's supervisor calls ``reconnect``). With MQTT 5 the
    clean start is an argument of the connect call: pass ``clean_start=True`` to
    ``connect_async``. `on_socket_open` runs on each new socket once TCP_NODELAY is set: give
    it here rather than to the client, where it would replace that.

    Raises SecretError for a password file that cannot be read, ValueError for TLS files that
    cannot be used (naming the file).
    """
    v5 = protocol == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if v5 else True,
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        reconnect_on_failure=reconnect_max is not None,
    )
    broker = broker_credentials(broker)
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    tls = broker.ssl_context()
    if tls is not None:
        client.tls_set_context(tls)
    if reconnect_max is not None:
        client.reconnect_delay_set(1, reconnect_max)
    if will is not None:
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)

    def socket_opened(client: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        _no_delay(sock)
        if on_socket_open is not None:
            on_socket_open(client, userdata, sock)

    client.on_socket_open = socket_opened
    return client, broker


def connect_failure(broker: BrokerAddress, exc: BaseException) -> str:
    """How a failed connect to `broker` reads in a message: the error, and over TLS, when the
    other end dropped or garbled the handshake, the likely cause (``mqtts://`` given a plain MQTT
    port: Mosquitto resets the connection on a ClientHello)."""
    text = str(exc) or type(exc).__name__
    if broker.tls and _not_tls(exc):
        return f"the broker did not answer TLS: is it a TLS port? ({text})"
    return text


NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)
"""OpenSSL's reasons for bytes that are no TLS record (a plain server that answered)."""


def _not_tls(exc: BaseException) -> bool:
    """A handshake the other end did not take part in: it closed or reset the connection, or
    answered something that is not TLS. A certificate the client rejects (or the broker's alert
    about ours) is a TLS answer, and is not this."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return True
    if isinstance(exc, ssl.SSLError):
        return exc.reason in NOT_TLS_REASONS
    return isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError)


def _no_delay(sock: SocketLike) -> None:
    """TCP_NODELAY on a TCP socket, TLS or not; any other socket is left as it is."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
