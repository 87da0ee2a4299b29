"""paho's private API behind one wall (drivers/mqtt/paho_internals.py): the probe at connect,
and the fallback to paho's public API when paho surprises it, with nothing lost or repeated.

A paho upgrade is simulated on one client by replacing its private methods (and, where paho's
own code calls them, its callers too, as an upgrade would change both).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import tomllib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import paho.mqtt
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from drivers.mqtt import MqttSettings, MqttStats
from drivers.mqtt.connection import MAX_INFLIGHT, Connection
from drivers.mqtt.paho_internals import TESTED, PahoInternals, paho_version
from drivers.mqtt.settings import FAST_PATH_ENV
from tests.conftest import ROOT
from tests.drivers.helpers import Peer
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

_ids = itertools.count()
Surprise = Callable[[mqtt.Client, pytest.MonkeyPatch], None]


def new_do_on_publish(client: mqtt.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """`_do_on_publish` takes one more argument, and paho's PUBACK handling passes it."""
    old = client._do_on_publish

    def do_on_publish(
        mid: int, reason_code: ReasonCode, properties: Properties, *, packet: str
    ) -> MQTTErrorCode:
        return old(mid, reason_code, properties)

    def handle_pubackcomp(cmd: str) -> MQTTErrorCode:
        mid = int.from_bytes(client._in_packet["packet"][:2], "big")
        with client._out_message_mutex:
            if mid in client._out_messages:
                reason = ReasonCode(PacketTypes.PUBACK)
                return do_on_publish(mid, reason, Properties(PacketTypes.PUBACK), packet=cmd)  # type: ignore[no-untyped-call]
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    monkeypatch.setattr(client, "_do_on_publish", do_on_publish)
    monkeypatch.setattr(client, "_handle_pubackcomp", handle_pubackcomp)


def mid_generate_fails_once(client: mqtt.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the tenth command, with nine framed in the gather buffer and not yet written."""
    old, calls = client._mid_generate, itertools.count(1)

    def mid_generate() -> int:
        if next(calls) == 10:
            raise RuntimeError("no message id this time")
        return old()

    monkeypatch.setattr(client, "_mid_generate", mid_generate)


def packet_read_returns_none_once(client: mqtt.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """After it has handled a whole packet: the packet must count once, not twice."""
    old, odd = client._packet_read, []

    def packet_read() -> MQTTErrorCode | None:
        rc = old()
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and not odd:
            odd.append(True)
            return None
        return rc

    monkeypatch.setattr(client, "_packet_read", packet_read)


class Harness:
    """A `Connection` (fast path on unless given None: the default), its messages collected,
    subscribed on connect."""

    def __init__(self, url: str, filters: list[str], fast_path: bool | None = True) -> None:
        n = next(_ids)
        chosen = {} if fast_path is None else {"fast_path": fast_path}
        self.filters = filters
        self.got: list[tuple[str, bytes]] = []
        self.stats = MqttStats()
        status = f"campusctl/pahoint{n}/status"
        self.conn = Connection(
            MqttSettings(
                url=url, status_topic=status, subscribe_qos=1, reconnect_min=0.1, **chosen
            ),
            client_id=f"pahoint-{n}",
            status_topic=status,
            stats=self.stats,
            on_message=lambda topic, payload: self.got.append((topic, payload)),
            on_connected=lambda: self.conn.subscribe(self.filters),
            on_read_done=lambda: None,
        )
        self.client = self.conn._client


@asynccontextmanager
async def started(harness: Harness) -> AsyncIterator[Harness]:
    harness.conn.start()
    try:
        async with asyncio.timeout(5):
            await harness.conn.wait_connected()
        await wait_for(lambda: paho_books(harness.conn) == (0, 0), "`online` acknowledged", 5)
        yield harness
    finally:
        await harness.conn.close()


@pytest.fixture
def peer(broker: Broker) -> Iterator[Peer]:
    p = Peer(broker.host, broker.port)
    yield p
    p.close()


async def exchange(h: Harness, peer: Peer, prefix: str, commands: int) -> None:
    """Commands from the connection (QoS 1, more than its in-flight window) while the peer sends
    readings (QoS 0, every fifth QoS 1): every one arrives, once, and paho's books end empty."""
    assert commands > MAX_INFLIGHT
    peer.received.clear()
    h.got.clear()
    sent, readings, infos = [], [], []
    for n in range(commands):
        topic, payload = f"{prefix}/cmd/dev{n % 7}/set", f'{{"state":{n}}}'.encode()
        infos.append(h.conn.publish(topic, payload, qos=1))
        sent.append((topic, payload))
        for k in range(2):
            reading = (f"{prefix}/in/dev{n % 5}", f'{{"co2":{n},"k":{k}}}'.encode())
            peer.client.publish(*reading, qos=1 if n % 5 == 0 and k == 0 else 0)
            readings.append(reading)
        if n % 25 == 24:
            await asyncio.sleep(0.005)  # PUBACKs and readings come in while commands go out
    await wait_for(lambda: all(info.is_published() for info in infos), "every PUBACK", 15)
    await wait_for(lambda: len(peer.received) >= len(sent), "every command", 15)
    await wait_for(lambda: len(h.got) >= len(readings), "every reading", 15)
    await asyncio.sleep(0.1)  # time for a duplicate to show
    assert [(m.topic, m.payload) for m in peer.received] == sent
    assert Counter(h.got) == Counter(readings)
    assert len(h.got) == len(readings)
    assert paho_books(h.conn) == (0, 0)


def paho_books(conn: Connection) -> tuple[int, int]:
    """Messages paho keeps until acknowledged, and those of them in its in-flight window."""
    backlog = conn.backlog()
    return backlog["paho_out_messages"], backlog["paho_inflight"]


def take_over(broker: Broker, client_id: str) -> None:
    """Connect with `client_id` and leave: the broker drops the connection that had it."""
    thief = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    thief.connect(broker.host, broker.port)
    try:
        thief.loop(timeout=2)  # its CONNACK
    finally:
        thief.disconnect()


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def paho_serves_its_own_socket(client: mqtt.Client) -> bool:
    return "_sock_recv" not in vars(client) and "_sock_send" not in vars(client)


@pytest.mark.mqtt
@pytest.mark.fast_path
@pytest.mark.parametrize(
    ("surprise", "names"),
    [
        (new_do_on_publish, "_do_on_publish"),
        (mid_generate_fails_once, "_mid_generate"),
        (packet_read_returns_none_once, "_packet_read"),
    ],
    ids=["do_on_publish-signature", "mid_generate-raises", "packet_read-returns-none"],
)
@run_async
async def test_a_surprise_at_run_time_falls_back_to_the_public_api_with_nothing_lost(
    broker: Broker,
    peer: Peer,
    *,
    surprise: Surprise,
    names: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PUBACK whose bookkeeping failed goes back to paho's own read (the in-flight window
    would fill otherwise, and commands stall); a command not entered goes through paho's
    `publish`; a packet paho read counts once. One error, then paho's public API for good: on
    this connection once the buffers are empty, and on the next one."""
    prefix = f"pahoint/runtime{next(_ids)}"
    peer.subscribe(f"{prefix}/cmd/#", qos=1)
    async with started(Harness(broker.url, [f"{prefix}/in/#"])) as h:
        assert h.conn.fast_path
        surprise(h.client, monkeypatch)
        await exchange(h, peer, prefix, commands=3 * MAX_INFLIGHT)
        assert not h.conn.fast_path
        await wait_for(lambda: paho_serves_its_own_socket(h.client), "paho's socket methods")
        [error] = errors(caplog)
        assert f"paho-mqtt {paho_version()}" in error
        assert names in error
        await asyncio.to_thread(take_over, broker, h.conn.client_id)
        await wait_for(lambda: h.stats.connects == 2, "a reconnect", 10)
        async with asyncio.timeout(10):
            await h.conn.wait_connected()
        assert not h.conn.fast_path
        assert paho_serves_its_own_socket(h.client)
        await exchange(h, peer, prefix, commands=MAX_INFLIGHT + 50)
        assert len(errors(caplog)) == 1


def paho_2_3(client: mqtt.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paho.mqtt, "__version__", "2.3.0")


@pytest.mark.mqtt
@pytest.mark.fast_path
@pytest.mark.parametrize(
    ("surprise", "says"),
    [(new_do_on_publish, "_do_on_publish"), (paho_2_3, "paho-mqtt 2.3.0: not a version")],
    ids=["do_on_publish-signature", "paho-2.3"],
)
@run_async
async def test_the_probe_refuses_an_unknown_paho_at_connect_and_the_public_api_carries_all(
    broker: Broker,
    peer: Peer,
    *,
    surprise: Surprise,
    says: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = f"pahoint/refused{next(_ids)}"
    peer.subscribe(f"{prefix}/cmd/#", qos=1)
    h = Harness(broker.url, [f"{prefix}/in/#"])
    surprise(h.client, monkeypatch)
    async with started(h):
        assert not h.conn.fast_path
        assert paho_serves_its_own_socket(h.client)
        await exchange(h, peer, prefix, commands=2 * MAX_INFLIGHT)
        assert h.stats.publishes_received_fast == 0
        [error] = errors(caplog)
        assert says in error


@pytest.mark.mqtt
@run_async
async def test_with_the_fast_path_off_paho_internals_are_not_touched(
    broker: Broker, peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def touched(*args: object) -> None:
        raise AssertionError("paho's private API used with the fast path off")

    for name in ("check", "serve_socket", "idle", "read_one", "acknowledge", "enter_qos1"):
        monkeypatch.setattr(PahoInternals, name, touched)
    monkeypatch.setenv(FAST_PATH_ENV, "0")
    prefix = f"pahoint/off{next(_ids)}"
    peer.subscribe(f"{prefix}/cmd/#", qos=1)
    async with started(Harness(broker.url, [f"{prefix}/in/#"], fast_path=None)) as h:
        assert paho_serves_its_own_socket(h.client)
        await exchange(h, peer, prefix, commands=2 * MAX_INFLIGHT)
        assert h.stats.publishes_received_fast == 0
        assert h.stats.callback_errors == 0


def test_the_environment_sets_the_default_and_a_setting_given_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(FAST_PATH_ENV, raising=False)
    assert MqttSettings().fast_path
    monkeypatch.setenv(FAST_PATH_ENV, "0")
    assert not MqttSettings().fast_path
    assert MqttSettings(fast_path=True).fast_path
    monkeypatch.setenv(FAST_PATH_ENV, "1")
    assert MqttSettings().fast_path


# -- the probe on its own, without a broker ----------------------------------------------------


def new_client() -> mqtt.Client:
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pahoint-probe-{next(_ids)}")


def probe(client: mqtt.Client) -> str:
    faults: list[str] = []
    problem = PahoInternals(client, lambda what, exc: faults.append(what)).check()
    assert not faults  # the probe reports; it never faults the adapter it checks
    return problem


def test_the_probe_passes_the_paho_installed() -> None:
    client = new_client()
    assert probe(client) == ""
    assert paho_serves_its_own_socket(client)
    assert client._out_messages == {}


def drop_in_packet(client: mqtt.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(client, "_in_packet")


def mid_as_text(client: mqtt.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mqtt.Client, "_mid_generate", lambda self: "1")


def read_without_sock_recv(client: mqtt.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A paho whose packet read no longer goes through `_sock_recv`."""
    monkeypatch.setattr(mqtt.Client, "_packet_read", lambda self: MQTTErrorCode.MQTT_ERR_SUCCESS)


def ack_without_freeing(client: mqtt.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A paho whose `_do_on_publish` no longer frees the message's in-flight slot."""

    def do_on_publish(self: Any, mid: int, reason: ReasonCode, props: Properties) -> MQTTErrorCode:
        self.on_publish(self, None, mid, reason, props)
        self._out_messages.pop(mid).info._set_as_published()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    monkeypatch.setattr(mqtt.Client, "_do_on_publish", do_on_publish)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (paho_2_3, "not a version the MQTT fast path was tested with (2.1.x, 2.2.x)"),
        (new_do_on_publish, "_do_on_publish(mid, reason_code, properties, *, packet)"),
        (drop_in_packet, "_in_packet is not a dict"),
        (mid_as_text, "_mid_generate returned '1'"),
        (read_without_sock_recv, "did not read a PUBACK through the replaced socket read"),
        (ack_without_freeing, "did not free the message's in-flight slot"),
    ],
    ids=["version", "signature", "name", "return-value", "read-path", "books"],
)
def test_the_probe_names_what_it_refuses(
    change: Surprise, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = new_client()
    change(client, monkeypatch)
    assert says in probe(client)


def test_pyproject_pins_paho_to_the_versions_tested() -> None:
    lowest, highest = min(TESTED), max(TESTED)
    pin = f"paho-mqtt>={lowest[0]}.{lowest[1]},<{highest[0]}.{highest[1] + 1}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert pin in project["dependencies"]
