"""One broker connection: paho-mqtt driven by the asyncio event loop, reconnecting forever.

Why the event loop drives paho, not paho's own thread (``loop_start``):

- Hot path. Messages are decoded where they arrive, on the loop that consumes them: no
  per-message thread hop, no GIL hand-over between a network thread and the loop (a busy
  network thread delays the loop by up to the 5 ms switch interval), no locks. One readable
  event reads a burst of up to `READ_BURST` packets and the driver hands their readings over as
  one batch, so a flood of thousands of messages a second costs one queue put per burst.
  (paho's ``loop_read`` reads one packet per call when no QoS>0 traffic is in flight, and its
  threaded loop pays a ``select`` per packet.)
- Control. Backoff, logging once per outage and an orderly shutdown with an acknowledged
  ``offline`` are plain asyncio code here, not state shared with a thread.

The single blocking step, the TCP connect (DNS, then up to `connect_timeout`), runs in an
executor thread; while it runs nothing else touches the client, and paho's socket callbacks from
that thread are forwarded to the loop with ``call_soon_threadsafe``. This is the design aiomqtt
uses, plus burst reads and a supervisor that reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from campus.problems import DriverError
from drivers.mqtt.settings import MqttSettings
from drivers.mqtt.stats import MqttStats

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike

log = logging.getLogger("campusctl.mqtt")

READ_BURST = 256
"""Packets read per readable event at most, so a flood cannot starve the rest of the loop."""
SUBSCRIBE_CHUNK = 256
"""Topics per SUBSCRIBE packet: a campus has thousands; brokers limit packet sizes."""
MAX_INFLIGHT = 100
"""QoS 1 messages in flight at once (Mosquitto's max_inflight_messages in our configs)."""
RECV_CHUNK = 65536
"""Bytes read from the socket at once; paho's small reads are then served from them."""


class Connection:
    """A paho client on the running event loop, with last will, status and reconnect backoff.

    Callbacks (`on_message`, `on_connected`, `on_read_done`) run on the event loop. All methods
    except `start`/`close`/`wait_connected` must be called on the event loop thread.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        status_topic: str,
        stats: MqttStats,
        on_message: Callable[[str, bytes], None],
        on_connected: Callable[[], None],
        on_read_done: Callable[[], None],
    ) -> None:
        self.endpoint = settings.endpoint()
        self.client_id = client_id
        self.status_topic = status_topic
        self.connected = False
        self._settings = settings
        self._stats = stats
        self._handle_message = on_message
        self._handle_connected = on_connected
        self._handle_read_done = on_read_done
        self._client = self._make_client()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._worker: asyncio.Future[MQTTErrorCode] | None = None
        self._misc: asyncio.TimerHandle | None = None
        self._closing = False
        self._wake = asyncio.Event()
        self._socket_closed = asyncio.Event()
        self._answered = asyncio.Event()
        self._up = asyncio.Event()
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._subscribing: dict[int, list[str]] = {}
        self._received = 0
        self._backoff = settings.reconnect_min
        self._failed_attempts = 0
        self._down_since: float | None = None
        self._refusal = ""
        self._rx = b""
        self._rx_pos = 0

    def _make_client(self) -> mqtt.Client:
        settings = self._settings
        v5 = settings.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=None if v5 else True,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            reconnect_on_failure=False,
        )
        client.suppress_exceptions = True
        client.enable_logger(logging.getLogger("campusctl.mqtt.paho"))
        client.max_queued_messages_set(settings.max_queued)
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.connect_timeout = settings.connect_timeout
        if self.endpoint.username is not None:
            client.username_pw_set(self.endpoint.username, self.endpoint.password)
        try:
            tls = self.endpoint.ssl_context()
        except ValueError as exc:
            raise DriverError(f"MQTT TLS: {exc}") from exc
        if tls is not None:
            client.tls_set_context(tls)
        client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        host, port, keepalive = self.endpoint.host, self.endpoint.port, settings.keepalive
        if v5:
            client.connect_async(host, port, keepalive, clean_start=True)
        else:
            client.connect_async(host, port, keepalive)
        return client

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._supervisor = self._loop.create_task(self._supervise(), name="mqtt-connection")
        self._misc = self._loop.call_later(1.0, self._tick)

    async def wait_connected(self) -> None:
        """Return once connected and the subscriptions made on connect are acknowledged."""
        await self._up.wait()

    async def close(self) -> None:
        """Publish ``offline`` (retained, acknowledged), disconnect cleanly, stop reconnecting."""
        if self._loop is None or self._closing:
            return
        self._closing = True
        self._wake.set()
        timeout = self._settings.shutdown_timeout
        if self._worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._worker)
        if self.connected:
            info = self._client.publish(self.status_topic, b"offline", qos=1, retain=True)
            ack = self._loop.create_future()
            self._acks[info.mid] = ack
            try:
                await asyncio.wait_for(ack, timeout)
            except TimeoutError:
                log.warning("the broker did not acknowledge 'offline' within %g s", timeout)
            except ConnectionError:
                log.warning("the connection dropped before the broker acknowledged 'offline'")
        if self._client.socket() is not None:
            self._client.disconnect()
            try:
                await asyncio.wait_for(self._socket_closed.wait(), timeout)
            except TimeoutError:
                log.warning("clean disconnect took over %g s; closing the socket", timeout)
                self._close_socket()
        if self._supervisor is not None:
            try:
                await asyncio.wait_for(self._supervisor, timeout)
            except TimeoutError:
                self._supervisor.cancel()
        if self._misc is not None:
            self._misc.cancel()

    async def _supervise(self) -> None:
        """Connect, wait until the socket closes, back off, again: forever until `close`."""
        loop = asyncio.get_running_loop()
        while not self._closing:
            self._socket_closed.clear()
            self._answered.clear()
            self._refusal = ""
            established = self._stats.connects
            self._worker = loop.run_in_executor(None, self._client.reconnect)
            try:
                await self._worker
            except Exception as exc:
                self._attempt_failed(f"{exc}" or type(exc).__name__)
            else:
                self._worker = None
                await self._await_connack()
                await self._socket_closed.wait()
                if self._stats.connects == established and not self._closing:
                    self._attempt_failed(self._refusal or "connection closed before CONNACK")
            finally:
                self._worker = None
            if not self._closing:
                await self._pause()

    async def _await_connack(self) -> None:
        """A broker that accepts TCP but never answers CONNECT (amqtt given MQTT 5, a stuck
        proxy) would otherwise hold the attempt until the keepalive check, 30 s later."""
        timeout = self._settings.connect_timeout
        try:
            await asyncio.wait_for(self._answered.wait(), timeout)
        except TimeoutError:
            self._refusal = (
                f"no CONNACK within {timeout:g} s; does the broker speak "
                f"MQTT {self._settings.protocol}?"
            )
            self._shut_down_socket()

    async def _pause(self) -> None:
        delay = self._backoff
        self._backoff = min(self._backoff * 2, self._settings.reconnect_max)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    def _attempt_failed(self, reason: str) -> None:
        self._stats.connect_failures += 1
        self._failed_attempts += 1
        if self._failed_attempts == 1:
            log.warning(
                "cannot connect to the MQTT broker at %s: %s; retrying every %g..%g s",
                self.endpoint,
                reason,
                self._settings.reconnect_min,
                self._settings.reconnect_max,
            )
        else:
            log.debug(
                "connect attempt %d to %s failed: %s", self._failed_attempts, self.endpoint, reason
            )

    # -- what the driver calls ---------------------------------------------------------------

    def publish(
        self, topic: str, payload: bytes, qos: int = 0, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        return self._client.publish(topic, payload, qos, retain)

    def subscribe(self, topic_filters: list[str]) -> None:
        qos = self._settings.subscribe_qos
        for start in range(0, len(topic_filters), SUBSCRIBE_CHUNK):
            chunk = topic_filters[start : start + SUBSCRIBE_CHUNK]
            rc, mid = self._client.subscribe([(topic, qos) for topic in chunk])
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
                self._subscribing[mid] = chunk

    def unsubscribe(self, topic_filter: str) -> None:
        self._client.unsubscribe(topic_filter)

    # -- paho callbacks: state ---------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._answered.set()
        if reason.is_failure:
            self._refusal = f"the broker refused the connection: {reason}"
            return
        try:
            self.connected = True
            self._stats.connected = True
            self._stats.connects += 1
            self._backoff = self._settings.reconnect_min
            self._failed_attempts = 0
            if self._down_since is None:
                log.info("connected to %s as %s", self.endpoint, self.client_id)
            else:
                outage = time.monotonic() - self._down_since
                log.info("reconnected to %s after %.1f s", self.endpoint, outage)
            client.publish(self.status_topic, b"online", qos=1, retain=True)
            self._handle_connected()
            if not self._subscribing:
                self._up.set()
        except Exception:
            self._stats.callback_errors += 1
            log.exception("bug in the MQTT connect handler")

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if not self.connected:
            return
        self.connected = False
        self._stats.connected = False
        self._stats.disconnects += 1
        self._up.clear()
        self._subscribing.clear()
        acks, self._acks = self._acks, {}
        for ack in acks.values():
            if not ack.done():
                ack.set_exception(ConnectionError("connection lost"))
        self._down_since = time.monotonic()
        if self._closing:
            log.info("disconnected from %s", self.endpoint)
        else:
            log.warning(
                "lost the connection to %s (%s); reconnecting every %g..%g s",
                self.endpoint,
                reason,
                self._settings.reconnect_min,
                self._settings.reconnect_max,
            )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._received += 1
        try:
            payload = message.payload
            self._handle_message(
                message.topic, payload if isinstance(payload, bytes) else bytes(payload)
            )
        except Exception:
            self._stats.callback_errors += 1
            log.exception("bug while handling a message (payload %r)", message.payload[:200])

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties,
    ) -> None:
        ack = self._acks.pop(mid, None)
        if ack is not None and not ack.done():
            ack.set_result(None)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        topics = self._subscribing.pop(mid, [])
        for topic, reason in zip(topics, reasons, strict=False):
            if reason.is_failure:
                log.error("the broker refused the subscription to %s: %s", topic, reason)
        if self.connected and not self._subscribing:
            self._up.set()

    # -- paho callbacks: the socket on the event loop -----------------------------------------

    def _in_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn` on the event loop: now if on it, else soon (paho's connect thread)."""
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._rx, self._rx_pos = b"", 0
        plain = isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket)
        if plain and hasattr(client, "_sock_recv"):
            # paho reads each packet in three recv calls (type, length, body); serving them
            # from one larger read saves two system calls per message (plain TCP only).
            client._sock_recv = self._recv  # type: ignore[method-assign]
        self._in_loop(self._watch, sock)

    def _watch(self, sock: SocketLike) -> None:
        if sock is self._client.socket() and self._loop is not None:
            self._loop.add_reader(sock.fileno(), self._on_readable)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        self._in_loop(self._unwatch, sock.fileno())

    def _unwatch(self, fd: int) -> None:
        if self._loop is not None and fd >= 0:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(fd)
                self._loop.remove_writer(fd)
        if self._client.socket() is None:
            self._socket_closed.set()
            self._answered.set()

    def _on_register_write(self, client: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        self._in_loop(self._want_write, sock)

    def _want_write(self, sock: SocketLike) -> None:
        if sock is self._client.socket() and self._loop is not None:
            self._loop.add_writer(sock.fileno(), self._on_writable)

    def _on_unregister_write(self, client: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        self._in_loop(self._stop_writing, sock.fileno())

    def _stop_writing(self, fd: int) -> None:
        if self._loop is not None and fd >= 0:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_writer(fd)

    def _recv(self, bufsize: int) -> bytes:
        """paho's socket read, served from `RECV_CHUNK`-byte reads of the socket."""
        data, pos = self._rx, self._rx_pos
        if pos >= len(data):
            sock = self._client.socket()
            if sock is None:
                raise ConnectionError("the MQTT socket is closed")
            data = sock.recv(RECV_CHUNK)
            if len(data) <= bufsize:
                self._rx, self._rx_pos = b"", 0
                return data
            pos = 0
        end = pos + bufsize
        if end >= len(data):
            self._rx, self._rx_pos = b"", 0
        else:
            self._rx, self._rx_pos = data, end
        return data[pos:end]

    def _on_readable(self) -> None:
        client = self._client
        try:
            for _ in range(READ_BURST):
                before = self._received
                if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                if self._received == before and self._rx_pos >= len(self._rx):
                    break
            if self._rx_pos < len(self._rx) and self._loop is not None:
                self._loop.call_soon(self._on_readable)
        except Exception:
            self._stats.callback_errors += 1
            log.exception("reading from the MQTT broker failed; dropping the connection")
            self._shut_down_socket()
        else:
            self._read_tls_leftovers()
        finally:
            try:
                self._handle_read_done()
            except Exception:
                self._stats.callback_errors += 1
                log.exception("bug while handing over a batch of readings")

    def _read_tls_leftovers(self) -> None:
        """TLS: bytes already decrypted into the SSL object wake no reader on the socket, so
        read them soon rather than when the next packet happens to arrive."""
        sock = self._client.socket()
        if isinstance(sock, ssl.SSLSocket) and sock.pending() > 0 and self._loop is not None:
            self._loop.call_soon(self._on_readable)

    def _on_writable(self) -> None:
        try:
            self._client.loop_write()
        except Exception:
            self._stats.callback_errors += 1
            log.exception("writing to the MQTT broker failed; dropping the connection")
            self._shut_down_socket()

    def _tick(self) -> None:
        """Keepalive pings and dead-connection detection, once a second (paho's loop_misc)."""
        assert self._loop is not None
        self._misc = self._loop.call_later(1.0, self._tick)
        if self._worker is not None:
            return
        try:
            self._client.loop_misc()
        except Exception:
            self._stats.callback_errors += 1
            log.exception("MQTT keepalive check failed")

    def _shut_down_socket(self) -> None:
        """Make paho see the connection as lost, so its own close path runs and we reconnect."""
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _close_socket(self) -> None:
        sock = self._client.socket()
        if sock is not None:
            self._unwatch(sock.fileno())
            sock.close()
        self._socket_closed.set()
