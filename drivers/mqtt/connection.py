"""One broker connection: paho-mqtt driven by the asyncio event loop, reconnecting forever.

The client comes from campus.mqttclient like every campusctl client's (protocol, clean session,
credentials, TLS, the ``offline`` last will, TCP_NODELAY); what is set here is the driver's own:
queue and in-flight limits, timeouts, callbacks and reconnecting.

Why the event loop drives paho, not paho's own thread (``loop_start``):

- Hot path. Messages are decoded where they arrive, on the loop that consumes them: no
  per-message thread hop, no GIL hand-over between a network thread and the loop (a busy
  network thread delays the loop by up to the 5 ms switch interval), no locks. One readable
  event reads a burst of up to `READ_BURST` packets and the driver hands their messages over
  as one batch (each message still evaluated on its own), so a flood of thousands of messages
  a second costs one hand-over per burst.
  (paho's ``loop_read`` reads one packet per call when no QoS>0 traffic is in flight, as many
  as are in flight otherwise, and its threaded loop pays a ``select`` per packet.)
  While messages come fast but a few at a time, the connection waits `MqttSettings.read_linger`
  (1 ms) after a pass before it reads again, so that one wake-up reads many (`_linger`;
  drivers/mqtt/readpacing.py says when).
- Control. Backoff, logging once per outage and an orderly shutdown with an acknowledged
  ``offline`` are plain asyncio code here, not state shared with a thread.

The single blocking step, the TCP connect (DNS, then up to `connect_timeout`), runs in an
executor thread; while it runs nothing else touches the client, and paho's socket callbacks from
that thread are forwarded to the loop with ``call_soon_threadsafe``. This is the design aiomqtt
uses, plus burst reads and a supervisor that reconnects.

The fast path (`MqttSettings.fast_path`, plain TCP): paho spends most of its CPU per message
on machinery this traffic does not need (three reads, a message object, locks and a callback
lookup per packet received; one ``send`` per packet written). So `_recv` serves paho's reads
from one large read and `_send` gathers its writes for one ``send`` per loop pass (`_flush`), or
at once when the controller has handed over a batch's commands (`flush`).
With MQTT 3.1.1, whenever paho sits between packets, `_read_fast` takes QoS 0 PUBLISH (device
telemetry) and PUBACK (commands acknowledged, into paho's books) straight out of the receive
buffer, and `publish` frames QoS 0 and QoS 1 messages into the gather buffer while paho has
nothing queued (`_frame`), entering QoS 1 in paho's books so that paho still tracks the
acknowledgement and resends after a reconnect. Everything else goes through paho: other
packets, QoS>0 received, a packet not complete yet, QoS 2, a full in-flight window, MQTT 5,
TLS. All writes share one buffer, so their order holds; a stream that cannot be framed drops
the connection, as paho does. Measurements: bench/README.md, "Campus load against peers".

What the fast path needs from paho's private API is in drivers/mqtt/paho_internals.py, checked
at each connect. On any surprise the connection says so once (an error naming paho's version)
and goes on with paho's public API only (``loop_read``/``loop_write``/``loop_misc``,
``publish``, as aiomqtt drives it), for good and without losing or repeating what it had in
hand: paho reads what is left in the receive buffer, a PUBACK not taken included
(`_fall_back`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from campus.mqttclient import LastWill, connect_failure, paho_client
from campus.problems import DriverError
from drivers.mqtt.paho_internals import PahoInternals, paho_version
from drivers.mqtt.readpacing import ReadPacing
from drivers.mqtt.settings import MqttSettings
from drivers.mqtt.stats import MqttStats

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike

log = logging.getLogger("campusctl.mqtt")

READ_BURST = 256
"""Packets read per readable event at most, so a flood cannot starve the rest of the loop."""
SUBSCRIBE_CHUNK = 256
"""Topics per SUBSCRIBE packet: a campus has thousands; brokers limit packet sizes."""
MAX_INFLIGHT = 500
"""QoS 1 messages we publish that may await their PUBACK at once (paho's window; MQTT 3.1.1
sets no limit on the broker's side)."""
MAX_FAST_PAYLOAD = 1 << 20
"""Larger payloads (none the controller sends) go through paho's `publish`."""
RECV_CHUNK = 65536
"""Bytes read from the socket at once; paho's small reads are then served from them."""
MAX_TOP_UP = 4 * RECV_CHUNK
"""A QoS 0 PUBLISH split across reads is completed in the receive buffer up to this size;
a larger one is left to paho (each top-up copies what is buffered)."""
SHORT_LIVED = 5.0
"""Seconds: a connection the broker closes sooner than this after accepting it does not reset
the reconnect backoff (a broker that drops every connection is not reconnected to in a loop)."""
TAKEN_OVER = 142
"""MQTT 5's "Session taken over": another client connected with this client id."""
TAKEN_OVER_AFTER = 3
"""Connections in a row closed within `SHORT_LIVED` that MQTT 3.1.1 (no reason code) reads as
a client id used twice: the broker closes the older connection whenever the other connects."""
GATHERED = mqtt.MQTTMessageInfo(0)
"""What `Connection.publish` returns for a QoS 0 message the fast path framed (rc: success)."""


class _Unframeable(Exception):
    """The inbound byte stream broke the MQTT framing: the connection has to go."""


class Connection:
    """A paho client on the running event loop, with last will, status and reconnect backoff.

    Callbacks (`on_message`, `on_connected`, `on_read_done`, `on_acknowledged`) run on the
    event loop; `on_acknowledged(mid)` runs inside paho's bookkeeping of a QoS 1 message's
    PUBACK, before paho frees its slot in the in-flight window: it must not publish. All methods
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
        on_acknowledged: Callable[[int], None] = lambda mid: None,
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
        self._handle_acknowledged = on_acknowledged
        self._client = self._make_client()
        self._paho = PahoInternals(self._client, self._fall_back)
        """paho's private API, for the fast path only."""
        self._fast_path = settings.fast_path
        """Whether the next connection may take the fast path: off for good after a fault."""
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
        self._backoff = settings.reconnect_min
        self._failed_attempts = 0
        self._connected_at = 0.0
        self._dropped_early = 0
        """Connections in a row the broker closed within `SHORT_LIVED` of accepting them."""
        self._down_since: float | None = None
        self._refusal = ""
        self._rx = b""
        self._rx_pos = 0
        self._tx = bytearray()
        """Bytes gathered for the socket (plain TCP): paho's packets and `_frame`'s."""
        self._gathering = False
        """Whether paho's reads and writes on this socket go through `_recv` and `_send`."""
        self._draining = False
        """After a fault: paho gets its own socket methods back once both buffers are empty."""
        self._write_due = False
        self._in_paho_callback = False
        """Whether paho is calling `_on_message`, holding the lock its own write of a QoS 0
        message takes: nothing may call paho's ``loop_write`` then (`_on_writable` leaves the
        writing to the end of the loop pass, `publish` leaves the message to paho's, which
        queues it)."""
        self._paho_writing = False
        """Whether paho asked for writable events (it has packets queued)."""
        self._writer_watched = False
        """Whether the loop watches the socket for writability (`_watch_writable`)."""
        self._fast = False
        """Parse QoS 0 PUBLISH ourselves on this socket (`_read_fast`)."""
        self._partial = False
        """The receive buffer ends in part of a QoS 0 PUBLISH that `_read_fast` will take."""
        self._drained = False
        """The last socket read returned less than it asked for: the kernel had no more then.
        Reading again at once would mostly return nothing (a wasted system call per burst when
        messages come one at a time); the event loop's next readable event says when more
        came."""
        self._poller: select.poll | None = None
        """The watched socket, for `input_waiting`."""
        self._read_pacing = ReadPacing(settings.read_linger)
        self._resume: asyncio.TimerHandle | None = None
        """While lingering (`_linger`): the timer that watches the socket again."""

    def _make_client(self) -> mqtt.Client:
        settings = self._settings
        try:
            client, _ = paho_client(
                self.endpoint,
                self.client_id,
                None,
                protocol=settings.protocol,
                will=LastWill(self.status_topic, b"offline"),
                on_socket_open=self._on_socket_open,
            )
        except ValueError as exc:
            raise DriverError(f"MQTT TLS: {exc}") from exc
        client.suppress_exceptions = True
        client.enable_logger(logging.getLogger("campusctl.mqtt.paho"))
        client.max_queued_messages_set(settings.max_queued)
        client.max_inflight_messages_set(MAX_INFLIGHT)
        client.connect_timeout = settings.connect_timeout
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        host, port, keepalive = self.endpoint.host, self.endpoint.port, settings.keepalive
        if settings.protocol == "5":
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
                self._attempt_failed(connect_failure(self.endpoint, exc))
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
        """On the fast path framed here, into the gather buffer (`_frame`); else, and inside
        paho's message callback (`_in_paho_callback`), through paho's ``publish``."""
        if qos <= 1 and self._fast and self.connected and not self._in_paho_callback:
            client = self._client
            if client.want_write():
                # paho's queued packets into the gather buffer first, as the end of this pass
                # would: the order holds, and this message need not go through paho's publish
                client.loop_write()
            name = topic.encode()
            if not client.want_write() and len(name) <= 0xFFFF and len(payload) <= MAX_FAST_PAYLOAD:
                if qos == 0:
                    self._frame(0x31 if retain else 0x30, name, None, payload)
                    return GATHERED
                message = self._paho.enter_qos1(name, payload, retain)
                if message is not None:
                    self._frame(0x33 if retain else 0x32, name, message.mid, payload)
                    return message.info
        return self._client.publish(topic, payload, qos, retain)

    def _frame(self, first: int, name: bytes, mid: int | None, payload: bytes) -> None:
        """A PUBLISH (MQTT 3.1.1) framed here and gathered with everything else written in this
        loop pass; taken only once paho has nothing queued, so the order of all writes is
        kept. `first`: the fixed header's first byte; `mid`: the message id (QoS 1)."""
        tx = self._tx
        tx.append(first)
        length = 2 + len(name) + len(payload) + (0 if mid is None else 2)
        while length > 0x7F:
            tx.append((length & 0x7F) | 0x80)
            length >>= 7
        tx.append(length)
        tx += len(name).to_bytes(2, "big")
        tx += name
        if mid is not None:
            tx += mid.to_bytes(2, "big")
        tx += payload
        self._write_soon()

    @property
    def fast_path(self) -> bool:
        """Whether the fast path is in use now: on the current (or last) socket, QoS 0 PUBLISH
        and PUBACK are read and publishes framed here (`_read_fast`, `_frame`). False with the
        setting off, on TLS or MQTT 5, before the first connect and for good after a fallback."""
        return self._fast

    def backlog(self) -> dict[str, int]:
        """What waits to be written or acknowledged, by where it waits (soak tests)."""
        return {"gathered_bytes": len(self._tx), **self._paho.backlog()}

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
            self._connected_at = time.monotonic()
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
        self._down_since = now = time.monotonic()
        if now - self._connected_at >= SHORT_LIVED:
            self._dropped_early = 0
            self._backoff = self._settings.reconnect_min  # else keep backing off
        else:
            self._dropped_early += 1
        if self._closing:
            log.info("disconnected from %s", self.endpoint)
        elif reason == TAKEN_OVER or self._dropped_early == TAKEN_OVER_AFTER:
            self._stats.taken_over += 1
            log.error(
                "the broker at %s closed this connection %s: another client uses the client "
                "id %r (a second controller of this site, or a tool given its id?). Stop the "
                "other one; reconnecting at most every %g s meanwhile",
                self.endpoint,
                "because another client took over its session"
                if reason == TAKEN_OVER
                else f"{self._dropped_early} times in a row right after accepting it",
                self.client_id,
                self._settings.reconnect_max,
            )
            self._backoff = self._settings.reconnect_max
        elif self._dropped_early > TAKEN_OVER_AFTER:
            log.debug("lost the connection to %s again (%s)", self.endpoint, reason)
        else:
            log.warning(
                "lost the connection to %s (%s); reconnecting every %g..%g s",
                self.endpoint,
                reason,
                self._settings.reconnect_min,
                self._settings.reconnect_max,
            )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._stats.publishes_received += 1
        self._in_paho_callback = True
        try:
            payload = message.payload
            self._handle_message(
                message.topic, payload if isinstance(payload, bytes) else bytes(payload)
            )
        except Exception:
            self._stats.callback_errors += 1
            log.exception("bug while handling a message (payload %r)", message.payload[:200])
        finally:
            self._in_paho_callback = False

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
        self._handle_acknowledged(mid)

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
        self._rx, self._rx_pos = b"", 0
        self._tx = bytearray()
        self._gathering = self._fast = self._draining = False
        self._paho.restore_socket()  # a fallback may have left paho's replaced on the last one
        plain = isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket)
        if plain and self._fast_path:
            problem = self._paho.check()
            if problem:
                self._fall_back(problem)
            else:
                # paho reads each packet in three recv calls (type, length, body) and writes
                # each with its own send: `_recv` serves its reads from one larger read, `_send`
                # gathers its writes into one per loop pass (`_flush`)
                self._paho.serve_socket(self._recv, self._send)
                self._gathering = True
                self._fast = self._settings.protocol != "5"
        self._in_loop(self._watch, sock)

    def _fall_back(self, what: str, exc: BaseException | None = None) -> None:
        """The fast path met a paho it does not know (at connect or while running): say so once,
        and use paho's public API from now on, on this connection and later ones. What is in
        hand stays in order: paho reads what is left in the receive buffer through `_recv`, and
        its writes join what is gathered, until both are empty (`_settle`)."""
        log.error(
            "paho-mqtt %s: %s; the MQTT connection to %s uses paho's public API only from now on",
            paho_version(),
            what,
            self.endpoint,
            exc_info=exc,
        )
        self._fast_path = False
        if self._fast or self._gathering:
            self._fast = self._partial = False
            self._draining = self._gathering
            if self._loop is not None:
                self._loop.call_soon(self._settle)

    def _settle(self) -> None:
        """After a fallback: paho's own socket methods back once neither buffer holds bytes."""
        if self._draining and self._rx_pos >= len(self._rx) and not self._tx:
            self._draining = self._gathering = False
            self._paho.restore_socket()

    def _watch(self, sock: SocketLike) -> None:
        if sock is self._client.socket() and self._loop is not None:
            self._loop.add_reader(sock.fileno(), self._on_readable)
            self._writer_watched = True  # a new socket: whatever was watched, start clean
            self._watch_writable(sock.fileno(), False)
            self._poller = select.poll()
            self._poller.register(sock.fileno(), select.POLLIN)

    def input_waiting(self) -> bool:
        """Whether bytes from the broker wait to be handled: long work on the event loop (the
        control plane's room messages) checks this to let a reading through before going on
        (one poll system call: cheap enough to ask per room; bench/README.md, "Measured on the
        old workload", item 16). Part of a packet left in the receive buffer is not input to
        handle: the rest of it has to come through the socket first."""
        if self._rx_pos < len(self._rx) and not self._partial:
            return True
        poller = self._poller
        return poller is not None and bool(poller.poll(0))

    @property
    def partial_publish_buffered(self) -> bool:
        """Whether the receive buffer ends in part of a QoS 0 PUBLISH that the fast path takes
        whole once the rest has come (not input to handle yet: see `input_waiting`)."""
        return self._partial

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        # paho closes the socket right after it "wrote" a DISCONNECT: send what is gathered
        if self._tx and isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.send(self._tx)
        self._tx = bytearray()
        self._in_loop(self._unwatch, sock.fileno())

    def _unwatch(self, fd: int) -> None:
        self._poller = None
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if self._loop is not None and fd >= 0:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(fd)
            self._watch_writable(fd, False)
        if self._client.socket() is None:
            self._socket_closed.set()
            self._answered.set()

    def _on_register_write(self, client: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        self._in_loop(self._want_write, sock)

    def _want_write(self, sock: SocketLike) -> None:
        if sock is self._client.socket() and self._loop is not None:
            self._paho_writing = True
            if self._gathering:
                self._write_soon()  # later in this loop pass, with everything else written
            else:
                self._watch_writable(sock.fileno(), True)

    def _on_unregister_write(self, client: mqtt.Client, userdata: Any, sock: SocketLike) -> None:
        self._in_loop(self._stop_writing, sock.fileno())

    def _stop_writing(self, fd: int) -> None:
        self._paho_writing = False
        if self._tx:
            return  # paho's queue is empty, ours is not: `_flush` stops writing when done
        if fd >= 0:
            self._watch_writable(fd, False)

    def _watch_writable(self, fd: int, on: bool) -> None:
        """Have the loop call `_on_writable` when the socket can take more (or stop), asking
        the loop only when that changes: `_flush` stops after every write, and a needless
        `remove_writer` costs selector lookups each time."""
        if on == self._writer_watched or self._loop is None:
            return
        self._writer_watched = on
        if on:
            self._loop.add_writer(fd, self._on_writable)
        else:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_writer(fd)

    def _recv(self, bufsize: int) -> bytes:
        """paho's socket read, served from `RECV_CHUNK`-byte reads of the socket."""
        data, pos = self._rx, self._rx_pos
        if pos >= len(data):
            sock = self._client.socket()
            if sock is None:
                raise ConnectionError("the MQTT socket is closed")
            if self._draining:
                return sock.recv(bufsize)
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
        client, paho, stats = self._client, self._paho, self._stats
        fast = self._fast and client.socket() is not None
        parsed = 0
        received = stats.publishes_received
        waiting = False
        try:
            budget = READ_BURST
            while budget > 0:
                fast = fast and self._fast  # after a fault, paho's `loop_read` takes the rest
                if fast and paho.idle():
                    if self._rx_pos >= len(self._rx):
                        filled = self._read_more()
                        if filled is None:
                            break  # nothing to read: paho has no packet half read either
                    count = self._read_fast(budget)
                    parsed += count
                    budget -= count
                    if budget == 0:
                        break
                    if self._partial:
                        more = self._read_more()
                        if more:
                            continue
                        if more is None:
                            waiting = True  # the rest comes with a later readable event
                            break
                    elif count and self._rx_pos >= len(self._rx):
                        if self._drained:
                            break  # the socket had no more: epoll says when it has
                        continue  # all taken: read the socket again here, not through paho
                before = stats.publishes_received
                fast = fast and self._fast
                read = paho.read_one() if fast else client.loop_read()
                if read != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                budget -= 1
                if stats.publishes_received == before and self._rx_pos >= len(self._rx):
                    break
            if not waiting and self._rx_pos < len(self._rx) and self._loop is not None:
                if client.socket() is None:
                    self._rx, self._rx_pos = b"", 0  # the connection's leftovers died with it
                else:
                    self._loop.call_soon(self._on_readable)
        except _Unframeable as exc:
            log.warning("%s; dropping the connection to %s", exc, self.endpoint)
            self._rx, self._rx_pos = b"", 0
            self._shut_down_socket()
        except Exception:
            self._stats.callback_errors += 1
            log.exception("reading from the MQTT broker failed; dropping the connection")
            self._shut_down_socket()
        else:
            self._read_tls_leftovers()
        finally:
            if parsed and self._fast:
                paho.note_inbound()
            if self._draining:
                self._settle()
            try:
                self._handle_read_done()
            except Exception:
                self._stats.callback_errors += 1
                log.exception("bug while handing over a batch of readings")
            if self._write_due:
                self._on_writable()  # the commands this burst caused: now, not a pass later
            messages = stats.publishes_received - received
            if messages and self._read_pacing.after_pass(time.monotonic(), messages):
                self._linger()

    def _linger(self) -> None:
        """Stop watching the socket for `MqttSettings.read_linger` seconds, then read what came
        meanwhile as one batch (drivers/mqtt/readpacing.py says when)."""
        sock = self._client.socket()
        if sock is None or self._loop is None or self._resume is not None:
            return
        self._loop.remove_reader(sock.fileno())
        self._resume = self._loop.call_later(self._read_pacing.linger, self._read_again, sock)
        self._stats.lingers += 1

    def _read_again(self, sock: SocketLike) -> None:
        self._resume = None
        if sock is self._client.socket() and self._loop is not None:
            self._loop.add_reader(sock.fileno(), self._on_readable)
            self._on_readable()

    def _read_more(self) -> bool | None:
        """Append what the socket has to what is left unread in the receive buffer (nothing,
        or part of a QoS 0 PUBLISH that `_read_fast` then takes whole rather than paho): True
        when bytes came, None when there are none yet, False at the end of the stream or on a
        socket error, which paho's read then meets again and handles (closing the
        connection)."""
        sock = self._client.socket()
        if sock is None:
            return False
        try:
            data = sock.recv(RECV_CHUNK)
        except BlockingIOError:
            return None
        except OSError:
            return False
        if not data:
            return False
        self._drained = len(data) < RECV_CHUNK
        self._rx, self._rx_pos = self._rx[self._rx_pos :] + data, 0
        return True

    def _read_fast(self, limit: int) -> int:
        """Hand up to `limit` complete QoS 0 PUBLISH packets at the front of the receive buffer
        to the message handler, as `_on_message` would, and give the PUBACKs among them to
        paho's books (`PahoInternals.acknowledge`); return how many packets.

        Stops at the first packet that is anything else or not complete yet: paho reads that
        one. Raises `_Unframeable` on a bad remaining length, an empty topic or a topic longer
        than its packet (paho closes the connection on those too). A topic that is not UTF-8
        is logged and counted like the paho path's failure in `_on_message`; the framing holds,
        so the connection stays.
        """
        data, pos = self._rx, self._rx_pos
        size = len(data)
        handle = self._handle_message
        count = acks = 0
        self._partial = False
        try:
            while count + acks < limit and size - pos >= 2:
                if data[pos] & 0xFE != 0x30:  # PUBLISH, no DUP, QoS 0; RETAIN either way
                    if data[pos] == 0x40 and data[pos + 1] == 2 and size - pos >= 4:  # PUBACK
                        done = self._paho.acknowledge(data[pos + 2] << 8 | data[pos + 3])
                        if done is None:
                            break  # a fault: the PUBACK stays for paho's own read
                        pos += 4
                        acks += 1
                        if done:
                            continue
                        break  # paho met an error there and has handled it
                    break
                length = data[pos + 1]
                body = pos + 2
                if length & 0x80:
                    length &= 0x7F
                    shift = 7
                    while True:
                        if body >= size:
                            self._partial = True  # the length itself is not all here yet
                            return count
                        byte = data[body]
                        body += 1
                        length |= (byte & 0x7F) << shift
                        if not byte & 0x80:
                            break
                        shift += 7
                        if shift > 21:
                            raise _Unframeable(
                                "the broker sent a remaining length of over 4 bytes: "
                                f"{data[pos : pos + 64]!r}"
                            )
                end = body + length
                if end > size:
                    self._partial = length <= MAX_TOP_UP
                    break
                topic_end = body + 2 + (data[body] << 8 | data[body + 1]) if length >= 2 else 0
                if not body + 2 < topic_end <= end:  # v3.1.1: an empty topic is malformed
                    raise _Unframeable(
                        "the broker sent a PUBLISH whose topic length does not fit it: "
                        f"{data[pos : pos + 64]!r}"
                    )
                raw_topic = data[body + 2 : topic_end]
                payload = data[topic_end:end]
                pos = end
                count += 1
                try:
                    topic = raw_topic.decode()
                except UnicodeDecodeError:
                    self._stats.callback_errors += 1
                    log.warning(
                        "the broker sent a message on a topic that is not UTF-8, %r; ignored",
                        raw_topic[:64],
                    )
                    continue
                try:
                    handle(topic, payload)
                except Exception:
                    self._stats.callback_errors += 1
                    log.exception("bug while handling a message (payload %r)", payload[:200])
        finally:
            stats = self._stats
            stats.publishes_received += count
            stats.publishes_received_fast += count
            stats.pubacks_received_fast += acks
            if size - pos == 1 and data[pos] & 0xFE == 0x30:
                self._partial = True  # a PUBLISH of which only the first byte is here
            if pos >= size:
                self._rx, self._rx_pos = b"", 0
            else:
                self._rx_pos = pos
        return count + acks

    def _read_tls_leftovers(self) -> None:
        """TLS: bytes already decrypted into the SSL object wake no reader on the socket, so
        read them soon rather than when the next packet happens to arrive."""
        sock = self._client.socket()
        if isinstance(sock, ssl.SSLSocket) and sock.pending() > 0 and self._loop is not None:
            self._loop.call_soon(self._on_readable)

    def _send(self, data: bytes | bytearray) -> int:
        """paho's socket write: gathered, and written by `_flush` once paho has written every
        queued packet (plain TCP only)."""
        self._tx += data
        return len(data)

    def _write_soon(self) -> None:
        """Write out (`_write_out`) at the end of this loop pass, once for all that is queued."""
        if not self._write_due and self._loop is not None:
            self._write_due = True
            self._loop.call_soon(self._write_out)

    def flush(self) -> None:
        """Write now what is gathered or queued in paho, rather than at the end of this loop
        pass or at the socket's next writable event (drivers.base.Gathers); inside paho's
        message callback at the end of the pass (`_on_writable`)."""
        if self._write_due or self._paho_writing:
            self._on_writable()

    def _write_out(self) -> None:
        self._write_due = False
        self._on_writable()

    def _flush(self) -> None:
        """Write what `_send` and `_frame` gathered, in one system call; wait for the
        socket to be writable while the kernel cannot take all of it."""
        tx = self._tx
        if not tx:
            return
        sock = self._client.socket()
        if sock is None:
            tx.clear()
            return
        try:
            sent = sock.send(tx)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            log.warning("writing to the MQTT broker failed (%s); dropping the connection", exc)
            tx.clear()
            self._shut_down_socket()
            return
        del tx[:sent]
        if tx:
            self._watch_writable(sock.fileno(), True)
        elif not self._paho_writing:
            self._watch_writable(sock.fileno(), False)

    def _on_writable(self) -> None:
        """Write paho's queued packets and what is gathered. Inside paho's message callback (a
        message paho read, not `_read_fast`) the writing waits for the end of the pass: paho
        holds its callback lock there, and its write of a QoS 0 message takes that lock again
        (a deadlock of the event loop)."""
        if self._in_paho_callback:
            self._write_soon()
            return
        try:
            if self._client.want_write():
                self._client.loop_write()
            if self._tx:
                self._flush()
            if self._draining:
                self._settle()
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
