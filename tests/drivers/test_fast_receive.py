"""The connection's own QoS 0 PUBLISH parser (drivers/mqtt/connection.py, `_read_fast`), and
its linger before reading again while messages come fast and few at a time (readpacing.py).

Against a real Mosquitto: what arrives, in what order, and that paho's path still carries
everything else. Framing errors no broker would send come from a few lines of raw MQTT below.
Every test here sets `fast_path` itself (marked `fast_path`: CAMPUSCTL_MQTT_FAST_PATH=0 changes
nothing for them).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import paho.mqtt.client as mqtt
import pytest

from drivers.mqtt import MqttSettings, MqttStats
from drivers.mqtt import connection as connection_module
from drivers.mqtt.connection import GATHERED, RECV_CHUNK, Connection
from drivers.mqtt.paho_internals import paho_version
from drivers.mqtt.readpacing import LINGER_MESSAGES
from tests.drivers.helpers import Peer
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.fast_path]

_ids = itertools.count()
Z2M = (
    b'{"battery":97,"co2":645,"humidity":41.2,"illuminance":312,"linkquality":120,'
    b'"occupancy":true,"temperature":21.4,"voltage":3005,"update":{"state":"idle"},'
    b'"device_temperature":24}'
)


class Harness:
    """A `Connection` whose messages are collected, subscribed on connect."""

    def __init__(self, url: str, filters: list[str], **settings: object) -> None:
        settings.setdefault("fast_path", True)
        n = next(_ids)
        self.filters = filters
        self.got: list[tuple[str, bytes]] = []
        self.stats = MqttStats()
        self.conn = Connection(
            MqttSettings(url=url, status_topic=f"campusctl/fastrx{n}/status", **settings),  # type: ignore[arg-type]
            client_id=f"fastrx-{n}",
            status_topic=f"campusctl/fastrx{n}/status",
            stats=self.stats,
            on_message=lambda topic, payload: self.got.append((topic, payload)),
            on_connected=lambda: self.conn.subscribe(self.filters),
            on_read_done=self._read_done,
        )
        self.passes = 0
        """Passes of reads that ended (the driver hands a batch over after each)."""

    def _read_done(self) -> None:
        self.passes += 1

    async def until(self, count: int, within: float = 10.0) -> list[tuple[str, bytes]]:
        await wait_for(lambda: len(self.got) >= count, f"{count} messages", within)
        return self.got


@asynccontextmanager
async def connected(url: str, filters: list[str], **settings: object) -> AsyncIterator[Harness]:
    harness = Harness(url, filters, **settings)
    harness.conn.start()
    try:
        async with asyncio.timeout(5):
            await harness.conn.wait_connected()
        yield harness
    finally:
        await harness.conn.close()


@pytest.fixture
def peer(broker: Broker) -> Iterator[Peer]:
    p = Peer(broker.host, broker.port)
    sock = p.client.socket()
    assert isinstance(sock, socket.socket)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # quick QoS 1 round trips
    yield p
    p.close()


def publish_all(peer: Peer, messages: list[tuple[str, bytes]], qos: int = 0) -> None:
    """Publish in order without waiting on each; wait until the last one has left."""
    info = None
    for topic, payload in messages:
        info = peer.client.publish(topic, payload, qos=qos)
    assert info is not None
    info.wait_for_publish(10)
    assert info.is_published()


def paho_books(conn: Connection) -> tuple[int, int]:
    """Messages paho keeps until acknowledged, and those of them in its in-flight window."""
    backlog = conn.backlog()
    return backlog["paho_out_messages"], backlog["paho_inflight"]


def payload_sizes(topic: str) -> list[int]:
    """Payload sizes whose PUBLISH remaining length (2 + topic + payload) sits on each side of
    the one/two/three-byte varint boundaries, plus everyday sizes."""
    overhead = 2 + len(topic.encode())
    edges = [127, 128, 16383, 16384]
    return [0, 1, len(Z2M), 300, 5000, 40000] + [edge - overhead for edge in edges]


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "paho-only"])
@run_async
async def test_a_burst_of_qos0_arrives_in_order_exactly(
    broker: Broker, peer: Peer, fast: bool
) -> None:
    prefix = f"fastrx/burst{next(_ids)}"
    retained = {
        f"{prefix}/retained/a": b"kept a",
        f"{prefix}/retained/b": Z2M,
        f"{prefix}/retained/räum/温度": b"x" * 200,
    }
    for topic, payload in retained.items():
        peer.publish(topic, payload, qos=1, retain=True)
    topics = [f"{prefix}/zigbee2mqtt/r{i}-multisensor" for i in range(7)]
    topics.append(f"{prefix}/zigbee2mqtt/Bürö-Größe/température/温度")
    live: list[tuple[str, bytes]] = []
    for i in range(4000):
        topic = topics[i % len(topics)]
        sizes = payload_sizes(topic)
        size = sizes[i % len(sizes)] if i % 3 == 0 else len(Z2M)
        stamp = f"{i:06d}".encode()
        payload = b"" if size == 0 else (stamp + Z2M * (size // len(Z2M) + 1))[:size]
        live.append((topic, payload))
    try:
        async with connected(broker.url, [f"{prefix}/#"], fast_path=fast) as h:
            got = await h.until(len(retained))
            publish_all(peer, live)
            got = await h.until(len(retained) + len(live))
            await asyncio.sleep(0)  # nothing more may come in the next loop pass
            assert len(got) == len(retained) + len(live)
            assert dict(got[: len(retained)]) == retained
            assert got[len(retained) :] == live
            assert h.stats.callback_errors == 0
            if fast:
                assert h.conn.fast_path
                # Every one comes the fast way, those straddling a 64 KB read too, and those
                # in the socket when a read emptied the buffer (they once went through paho:
                # 3,564 of 4,000 fast in one CI run).
                assert h.stats.publishes_received_fast == len(retained) + len(live)
            else:
                assert h.stats.publishes_received_fast == 0
    finally:
        for topic in retained:
            peer.publish(topic, b"", qos=1, retain=True)


@run_async
async def test_qos1_between_qos0_goes_through_paho_and_keeps_the_order(
    broker: Broker, peer: Peer
) -> None:
    prefix = f"fastrx/mixed{next(_ids)}"
    sent: list[tuple[str, bytes]] = []
    for i in range(300):
        sent.append((f"{prefix}/dev{i % 5}", f'{{"n":{i}}}'.encode()))

    def publish() -> None:
        for i, (topic, payload) in enumerate(sent):
            if i % 3 == 0:
                peer.publish(topic, payload, qos=1)  # acknowledged before the next one goes
            else:
                peer.client.publish(topic, payload, qos=0)

    # At most 100 QoS 1 messages, Mosquitto's max_inflight_messages: past it the broker queues
    # QoS 1 but not QoS 0, and the order would be the broker's doing.
    async with connected(broker.url, [f"{prefix}/#"], subscribe_qos=1) as h:
        await asyncio.to_thread(publish)
        got = await h.until(len(sent))
        await asyncio.sleep(0)  # nothing more may come in the next loop pass
        assert got == sent
        # The QoS 1 ones were paho's (it acknowledged them), the QoS 0 ones mostly ours.
        assert 100 < h.stats.publishes_received_fast <= 200
        assert h.stats.callback_errors == 0


@run_async
async def test_qos0_behind_a_packet_for_paho_stays_fast_while_publishes_are_in_flight(
    broker: Broker, peer: Peer
) -> None:
    """paho's `loop_read` reads as many packets as QoS 1 messages are in flight: with commands
    awaiting their PUBACK it would take the QoS 0 readings behind a packet the fast path leaves
    to paho (here a SUBACK; before PUBACKs were taken fast, a PUBACK) too: an engine that falls
    behind sends more commands, which slowed its reading (the collapse at 48k/s)."""
    prefix = f"fastrx/inflight{next(_ids)}"
    sent = [(f"{prefix}/dev{i % 5}", f'{{"n":{i}}}'.encode()) for i in range(200)]
    async with connected(broker.url, [f"{prefix}/#"]) as h:
        h.conn.subscribe([f"{prefix}-other/#"])  # its SUBACK leads what follows
        await asyncio.sleep(0)  # the pass's gathered write: on the wire
        # The event loop is held from here on, so all of it waits in the socket.
        time.sleep(0.05)  # noqa: ASYNC251 -- the SUBACK first
        publish_all(peer, sent)
        for n in range(30):  # in flight for paho; written only when the loop runs again
            h.conn.publish(f"{prefix}-out/more", str(n).encode(), qos=1)
        time.sleep(0.3)  # noqa: ASYNC251 -- blocking on purpose: the broker delivers meanwhile
        got = await h.until(len(sent))
        assert got == sent
        assert h.stats.publishes_received_fast == len(sent)
        assert h.stats.callback_errors == 0


@run_async
async def test_pubacks_are_taken_on_the_fast_path_and_paho_keeps_count(
    broker: Broker, peer: Peer
) -> None:
    """A command's PUBACK is handled without paho's read (paho's bookkeeping still runs): every
    message is published, paho has nothing left in flight, and the ones paho queued beyond its
    in-flight window (20) went out as acknowledgements came back."""
    prefix = f"fastrx/acks{next(_ids)}"
    sent = [(f"{prefix}/dev{i % 5}", f'{{"n":{i}}}'.encode()) for i in range(300)]
    async with connected(broker.url, [f"{prefix}/#"]) as h:
        # the connection's own `online` may have come this way
        acks_before = h.stats.pubacks_received_fast
        infos = []
        for n in range(100):
            infos.append(h.conn.publish(f"{prefix}-out/{n % 7}", str(n).encode(), qos=1))
            if n % 10 == 0:
                publish_all(peer, sent[3 * n : 3 * n + 30])
        got = await h.until(len(sent))
        await wait_for(lambda: all(info.is_published() for info in infos), "every PUBACK")
        assert got == sent
        assert h.stats.pubacks_received_fast - acks_before == len(infos)
        assert paho_books(h.conn) == (0, 0)
        assert h.stats.callback_errors == 0


@run_async
async def test_a_packet_bigger_than_one_socket_read_arrives_intact(
    broker: Broker, peer: Peer
) -> None:
    prefix = f"fastrx/big{next(_ids)}"
    big = bytes(range(256)) * (200_000 // 256)
    assert len(big) > 3 * RECV_CHUNK
    sent = [(f"{prefix}/before/{i}", Z2M) for i in range(50)]
    sent.append((f"{prefix}/big", big))
    sent += [(f"{prefix}/after/{i}", Z2M) for i in range(50)]
    sent.append((f"{prefix}/big2", big[::-1]))
    sent.append((f"{prefix}/last", b"end"))
    async with connected(broker.url, [f"{prefix}/#"]) as h:
        publish_all(peer, sent)
        got = await h.until(len(sent))
        await asyncio.sleep(0)  # nothing more may come in the next loop pass
        assert got == sent
        assert h.stats.publishes_received_fast >= 50


@run_async
async def test_only_fast_path_messages_arriving_does_not_drop_the_connection(
    broker: Broker, peer: Peer
) -> None:
    """The controller sends nothing of its own: paho's pings keep the connection up while the
    broker streams QoS 0 messages for over two keepalive periods. (2 s rather than 1: paho
    checks once a second, `Connection._tick`, so a ping may go out up to 1 s late, and
    Mosquitto allows 1.5 keepalives of silence.)"""
    prefix = f"fastrx/quiet{next(_ids)}"
    async with connected(broker.url, [f"{prefix}/in"], keepalive=2) as h:
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < 5:
            for _ in range(20):
                peer.client.publish(f"{prefix}/in", Z2M)
                sent += 1
            await asyncio.sleep(0.1)
        await h.until(sent)
        assert h.stats.publishes_received_fast > sent * 9 // 10
        assert h.stats.connects == 1
        assert h.stats.disconnects == 0
        assert h.conn.connected


# -- framing errors, which Mosquitto never sends: a raw MQTT 3.1.1 peer ----------------------


def publish_packet(topic: bytes, payload: bytes, first: int = 0x30) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + payload
    length, varint = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        varint.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([first]) + bytes(varint) + body


class RawBroker:
    """Accepts CONNECT, acknowledges SUBSCRIBE and QoS 1 PUBLISH, answers PINGREQ; the test
    writes whatever bytes it likes to the latest client."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.answer_pings = True
        self.pings = 0
        self.connections = asyncio.Queue[asyncio.StreamWriter]()
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"mqtt://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> RawBroker:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        try:
            while True:
                first = (await reader.readexactly(1))[0]
                length, shift = 0, 0
                while True:
                    byte = (await reader.readexactly(1))[0]
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                body = await reader.readexactly(length)
                kind = first & 0xF0
                if kind == 0x10:  # CONNECT
                    writer.write(b"\x20\x02\x00\x00")
                    self.connections.put_nowait(writer)
                elif kind == 0x80:  # SUBSCRIBE: grant QoS 0 to each filter
                    filters, pos = 0, 2
                    while pos < len(body):
                        pos += 2 + int.from_bytes(body[pos : pos + 2], "big") + 1
                        filters += 1
                    writer.write(bytes([0x90, 2 + filters]) + body[:2] + b"\x00" * filters)
                elif kind == 0x30 and first & 0x06:  # PUBLISH QoS 1
                    topic_len = int.from_bytes(body[:2], "big")
                    writer.write(b"\x40\x02" + body[2 + topic_len : 4 + topic_len])
                elif kind == 0xC0:  # PINGREQ
                    self.pings += 1
                    if self.answer_pings:
                        writer.write(b"\xd0\x00")
                elif kind == 0xE0:  # DISCONNECT
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@run_async
async def test_a_topic_that_is_not_utf8_is_logged_and_skipped_like_paho_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with RawBroker() as raw, connected(raw.url, ["#"], reconnect_min=0.1) as h:
        client = await raw.connections.get()
        client.write(
            publish_packet(b"a/ok", b"1")
            + publish_packet(b"a/\xff\xfe-bad", b"dropped")
            + publish_packet(b"a/ok", b"2", first=0x31)
        )
        got = await h.until(2)
        assert got == [("a/ok", b"1"), ("a/ok", b"2")]
        assert h.stats.callback_errors == 1
        assert h.stats.publishes_received == 3
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("not UTF-8" in m and repr(b"a/\xff\xfe-bad") in m for m in warned), warned
        client.write(publish_packet(b"a/ok", b"3"))
        await h.until(3)
        assert h.stats.connects == 1
        assert h.stats.disconnects == 0


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (b"\x30\xff\xff\xff\xff\x01" + b"x" * 10, "remaining length of over 4 bytes"),
        (b"\x30\x05\x00\x09a/b", "topic length does not fit"),
        (b"\x30\x04\x00\x00zz", "topic length does not fit"),  # empty topic
    ],
    ids=["five-byte-length", "topic-longer-than-packet", "empty-topic"],
)
@run_async
async def test_a_stream_that_cannot_be_framed_drops_the_connection_which_comes_back(
    bad: bytes, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with RawBroker() as raw, connected(raw.url, ["#"], reconnect_min=0.1) as h:
        client = await raw.connections.get()
        after = publish_packet(b"a/ok", b"lost")
        client.write(publish_packet(b"a/ok", b"1") + bad + after)
        async with asyncio.timeout(5):
            again = await raw.connections.get()
        again.write(publish_packet(b"a/ok", b"2"))
        got = await h.until(2)
        assert got == [("a/ok", b"1"), ("a/ok", b"2")]
        assert h.stats.disconnects >= 1
        assert h.stats.callback_errors == 0
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        named = repr((bad + after)[:64])  # the bytes from the bad packet on
        assert any(says in m and named in m for m in warned), warned


@run_async
async def test_a_length_split_between_reads_waits_for_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A packet cut inside its remaining length or its body is completed in the receive
    buffer (`_read_more`) and still taken by the fast path; the stream stays in step."""
    async with RawBroker() as raw, connected(raw.url, ["#"]) as h:
        client = await raw.connections.get()
        stream = b"".join(publish_packet(b"s/t", bytes([i]) * (i * 97)) for i in range(1, 40))
        for cut in range(0, len(stream), 777):
            client.write(stream[cut : cut + 777])
            await client.drain()
            await asyncio.sleep(0.002)  # apart: most parts come in a socket read of their own
        got = await h.until(39)
        assert got == [("s/t", bytes([i]) * (i * 97)) for i in range(1, 40)]
        assert h.stats.disconnects == 0
        assert h.stats.publishes_received_fast == 39


@run_async
async def test_fast_path_traffic_keeps_the_connection_while_a_pingresp_is_late() -> None:
    """paho 2.2 tolerates a late PINGRESP as long as bytes keep arriving (its
    ``_last_bytes_received``): a broker with a backlog answers pings only after the backlog.
    Here the PINGRESP never comes while QoS 0 messages stream in for three keepalive periods;
    if the fast path did not tell paho about its reads, paho would close the connection with
    a keepalive timeout at its second check."""
    if tuple(int(part) for part in paho_version().split(".")[:2]) < (2, 2):
        pytest.skip("paho before 2.2 closes on a late PINGRESP whatever else arrives")
    async with RawBroker() as raw, connected(raw.url, ["#"], keepalive=1) as h:
        client = await raw.connections.get()
        raw.answer_pings = False
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < 3.5:
            client.write(publish_packet(b"z/in", Z2M))
            sent += 1
            await asyncio.sleep(0.05)
        await h.until(sent)
        assert raw.pings >= 2  # paho did ping and got no answer
        assert h.stats.publishes_received_fast == sent
        assert h.stats.disconnects == 0
        assert h.conn.connected


@run_async
async def test_qos0_publishes_framed_by_the_connection_arrive_in_order_exactly(
    broker: Broker, peer: Peer
) -> None:
    """`Connection._frame` (QoS 0, gathered writes) against paho on the other side: every
    size across the varint boundaries, retained or not, non-ASCII topics, with QoS 1 publishes
    in between, all in the order they were published; a QoS 0 message right after a QoS 1 one
    is framed here too."""
    prefix = f"fastrx/out{next(_ids)}"
    peer.subscribe(f"{prefix}/#", qos=1)
    topics = [f"{prefix}/room/r{i}" for i in range(5)] + [f"{prefix}/Bürö-Größe/温度"]
    sent: list[tuple[str, bytes, int, bool]] = []
    for i in range(3000):
        topic = topics[i % len(topics)]
        sizes = payload_sizes(topic)
        size = sizes[i % len(sizes)]
        stamp = f"{i:06d}".encode()
        payload = b"" if size == 0 else (stamp + Z2M * (size // len(Z2M) + 1))[:size]
        qos = 1 if i % 97 == 0 else 0
        sent.append((topic, payload, qos, i % 5 == 0))
    async with connected(broker.url, []) as h:
        assert h.conn.fast_path
        gathered = 0
        for topic, payload, qos, retain in sent:
            info = h.conn.publish(topic, payload, qos, retain)
            assert info.rc == 0
            gathered += info is GATHERED
        assert gathered == sum(1 for _, _, qos, _ in sent if qos == 0)
        await wait_for(lambda: len(peer.received) >= len(sent), "every message", 15)
    got = [(m.topic, m.payload) for m in peer.received]
    assert got == [(topic, payload) for topic, payload, _, _ in sent]
    # a late subscriber gets the last retained message of each topic, flagged retained
    late = Peer(broker.host, broker.port)
    try:
        late.subscribe(f"{prefix}/#", qos=0)
        last = {topic: payload for topic, payload, _, retain in sent if retain}
        last = {topic: payload for topic, payload in last.items() if payload}  # b"": cleared
        assert last
        await wait_for(lambda: len(late.received) >= len(last), "retained messages", 10)
        assert {m.topic: m.payload for m in late.received} == last
        assert all(m.retain for m in late.received)
    finally:
        for topic in topics:
            peer.publish(topic, b"", qos=1, retain=True)
        late.close()


@run_async
async def test_qos1_publishes_framed_by_the_connection_are_tracked_as_paho_tracks_its_own(
    broker: Broker, peer: Peer
) -> None:
    """`PahoInternals.enter_qos1` (commands): the message it enters in paho's bookkeeping is
    the one paho's `publish` would enter; past the in-flight window (MAX_INFLIGHT) paho's `publish`
    queues the rest; every message arrives once, as QoS 1, in order, and every PUBACK empties
    paho's books."""
    prefix = f"fastrx/qos1{next(_ids)}"
    peer.subscribe(f"{prefix}/#", qos=1)
    topics = [f"{prefix}/dev{i}/set" for i in range(4)] + [f"{prefix}/Bürö/set"]
    sent = []
    for i in range(connection_module.MAX_INFLIGHT + 200):
        topic = topics[i % len(topics)]
        sizes = payload_sizes(topic)
        sent.append((topic, (f"{i:06d}".encode() + Z2M * 400)[: max(6, sizes[i % len(sizes)])]))
    async with connected(broker.url, []) as h:
        assert h.conn.fast_path
        client = h.conn._client
        await wait_for(
            lambda: paho_books(h.conn) == (0, 0), "the connection's `online` acknowledged"
        )
        by_paho = []
        publish = client.publish

        def paho_publish(*args: object, **kwargs: object) -> object:
            by_paho.append(args[0])
            return publish(*args, **kwargs)  # type: ignore[arg-type]

        client.publish = paho_publish  # type: ignore[method-assign,assignment]
        acks_before = h.stats.pubacks_received_fast
        # the loop is not given back until all are published: no PUBACK is read meanwhile
        infos = [h.conn.publish(topic, payload, qos=1) for topic, payload in sent]
        assert len(by_paho) == len(sent) - connection_module.MAX_INFLIGHT
        assert paho_books(h.conn) == (len(sent), connection_module.MAX_INFLIGHT)
        ours, theirs = client._out_messages[infos[0].mid], client._out_messages[infos[-1].mid]
        assert infos[0] is ours.info
        assert infos[0].rc == 0
        fields = (ours.topic, ours.payload, ours.qos, ours.retain, ours.dup)
        assert fields == (*sent[0], 1, False, False)
        assert ours.state == mqtt.mqtt_ms_wait_for_puback
        assert theirs.state == mqtt.mqtt_ms_queued  # paho's, waiting for the window
        await wait_for(lambda: all(info.is_published() for info in infos), "every PUBACK")
        assert paho_books(h.conn) == (0, 0)
        assert h.stats.pubacks_received_fast - acks_before == len(sent)
        assert h.stats.callback_errors == 0
    await wait_for(lambda: len(peer.received) >= len(sent), "every message", 15)
    assert [(m.topic, m.payload) for m in peer.received] == sent
    assert {m.qos for m in peer.received} == {1}


@run_async
async def test_input_waiting_says_whether_the_broker_sent_what_the_loop_has_not_read(
    broker: Broker, peer: Peer
) -> None:
    # long work on the event loop (the control plane's room slices) asks this to let a reading
    # through first: it must see bytes in the socket before the loop's reader has run
    topic = f"fastrx/waiting{next(_ids)}"
    async with connected(broker.url, [topic]) as h:
        peer.publish(topic, b"first")
        await h.until(1)  # subscribed
        assert not h.conn.input_waiting()
        peer.publish(topic, Z2M)  # the loop does not run until this coroutine yields
        deadline = time.monotonic() + 5
        while not h.conn.input_waiting() and time.monotonic() < deadline:
            pass
        assert h.conn.input_waiting(), "the message never showed in the socket"
        assert len(h.got) == 1
        await h.until(2)
        assert h.got[1] == (topic, Z2M)
        assert not h.conn.input_waiting()


@run_async
async def test_part_of_a_packet_in_the_buffer_is_not_input_waiting() -> None:
    # nothing can be handled until the rest comes through the socket: long work on the loop
    # must not give way to it
    async with RawBroker() as raw, connected(raw.url, ["#"]) as h:
        client = await raw.connections.get()
        packet = publish_packet(b"s/t", Z2M)
        client.write(packet[:20])
        await client.drain()
        await wait_for(
            lambda: h.conn.partial_publish_buffered, "the first part read into the buffer", 5
        )
        assert not h.conn.input_waiting()
        client.write(packet[20:])
        await client.drain()
        assert await h.until(1) == [("s/t", Z2M)]
        assert not h.conn.input_waiting()


LINGER = 0.05
"""`read_linger` of the tests below, long enough to see batches on any machine: it lingers
from 80 messages a second (drivers/mqtt/readpacing.py)."""


def trickle(peer: Peer, messages: list[tuple[str, bytes]], per_group: int, pause: float) -> None:
    """Publish `per_group` messages at a time with `pause` seconds between the groups (a
    thread: the connection's event loop runs meanwhile)."""
    for start in range(0, len(messages), per_group):
        for topic, payload in messages[start : start + per_group]:
            peer.client.publish(topic, payload)
        time.sleep(pause)


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "paho-only"])
@run_async
async def test_messages_coming_fast_few_at_a_time_are_read_in_batches_in_order(
    broker: Broker, peer: Peer, fast: bool
) -> None:
    prefix = f"fastrx/linger{next(_ids)}"
    messages = [(f"{prefix}/r{i % 9}", b"%06d" % i + Z2M) for i in range(600)]
    async with connected(broker.url, [f"{prefix}/#"], fast_path=fast, read_linger=LINGER) as h:
        before = h.passes
        # 3 messages every 2 ms: 1,500 a second, far above 4 / 50 ms = 80 a second (and still
        # above it if a busy machine stretched the pauses tenfold)
        await asyncio.to_thread(trickle, peer, messages, 3, 0.002)
        got = await h.until(len(messages))
        assert got == messages
        assert h.stats.lingers > 0
        # read in batches: far fewer passes than the 200 groups sent
        assert h.passes - before < len(messages) / (2 * 3)
        assert h.stats.callback_errors == 0


@run_async
async def test_messages_at_a_slow_rate_are_read_as_they_come(broker: Broker, peer: Peer) -> None:
    prefix = f"fastrx/nolinger{next(_ids)}"
    messages = [(f"{prefix}/r{i}", Z2M) for i in range(10)]
    async with connected(broker.url, [f"{prefix}/#"], read_linger=LINGER) as h:
        # one message every 100 ms: 10 a second, far below LINGER_MESSAGES / LINGER (even
        # two that a busy machine delivers together are 20 a second)
        assert LINGER_MESSAGES / LINGER > 2 / 0.1
        await asyncio.to_thread(trickle, peer, messages, 1, 0.1)
        assert await h.until(len(messages)) == messages
        assert h.stats.lingers == 0
