"""Asking a running controller from the command line: find it, read what it has retained, send
it requests (`campusctl status`, `override`, `release`, `ack`, `rules explain`).

Finding it works as in `campusctl tui`: ``--broker URL`` if given; else a controller advertised
over mDNS (loopback unless ``--discovery-interface`` says otherwise); else a broker that
advertises ``_mqtt._tcp``; else ``mqtt://127.0.0.1:1883``. The site is ``--site``, else the one
the advertisement names, else the one site whose controller publishes on the broker. When more
than one controller is left, the command stops and lists them: it never guesses which campus
to change, and ``--site`` (or ``--broker``) is the answer.

What the controller retains is read with a fence: subscribe at QoS 0, then subscribe once more
to a topic nobody publishes; a broker answers SUBSCRIBEs in order and has queued the first
one's retained messages before it reads the second, so the second SUBACK comes after all of
them. At QoS 1 the broker's in-flight window (20 messages in Mosquitto) would hold retained
messages back and let that SUBACK overtake them; at QoS 0 nothing waits.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from campus import wire
from campus.brokerurl import parse_broker_url
from campus.discovery import browse, resolve_interfaces
from campus.problems import CampusError

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
BROWSE_SECONDS = 2.0
"""How long mDNS is listened to (as `campusctl tui` does): long enough to hear every
controller on the interfaces, so a second one is never missed."""
T = TypeVar("T")
ANY_SITE = wire.Topics("+")
FENCE = "fence"
"""A response name no request has: its topic carries nothing, retained or not."""


def add_client_arguments(parser: argparse.ArgumentParser, changes: bool) -> None:
    """``--broker``, ``--site``, ``--timeout``, the discovery options, and ``--user`` for
    commands that change the campus."""
    parser.add_argument(
        "--broker",
        default=None,
        metavar="URL",
        help="mqtt[s]://[user@]host[:port] (default: the controller found by mDNS, "
        f"else {DEFAULT_BROKER})",
    )
    parser.add_argument(
        "--site",
        default=None,
        help="the site id (default: the one controller found; needed when there are several)",
    )
    if changes:
        parser.add_argument(
            "--user",
            default=None,
            help="your name in the audit trail (default: the broker user, else your login name)",
        )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for the controller (default 5)"
    )
    parser.add_argument(
        "--no-discovery", action="store_true", help="do not look for controllers with mDNS"
    )
    parser.add_argument(
        "--discovery-interface",
        action="append",
        default=[],
        metavar="IFACE",
        help="where mDNS looks: an interface, an IPv4 address or 'all' (default: loopback)",
    )


@dataclass(frozen=True, slots=True)
class Located:
    """Where the controller is, before connecting."""

    broker: str
    site: str | None
    said: str
    """How it was found, for messages."""


@dataclass(frozen=True, slots=True)
class Advertised:
    site: str
    broker: str


def locate(args: argparse.Namespace) -> Located:
    """The broker (and the site, when discovery names it) from ``--broker`` or mDNS."""
    if args.broker is not None:
        return Located(args.broker, args.site, f"--broker {args.broker}")
    if args.no_discovery:
        return Located(DEFAULT_BROKER, args.site, f"the default broker {DEFAULT_BROKER}")
    interfaces = resolve_interfaces(args.discovery_interface)
    found = asyncio.run(browse(BROWSE_SECONDS, interfaces))
    controllers = [Advertised(c.site, c.broker) for c in found.controllers]
    chosen = choose_advertised(controllers, args.site)
    if chosen is not None:
        return Located(chosen.broker, chosen.site, f"controller {chosen.site} found by mDNS")
    if len(found.brokers) == 1:
        url = found.brokers[0].url
        return Located(url, args.site, f"the broker {url} found by mDNS (no controller)")
    return Located(DEFAULT_BROKER, args.site, "the default broker (no controller found by mDNS)")


def choose_advertised(controllers: list[Advertised], site: str | None) -> Advertised | None:
    """The one controller (site and broker) among those advertised, None for none; CampusError
    listing them when there are several (the shards of one site on one broker count once)."""
    distinct = list(dict.fromkeys(c for c in controllers if site is None or c.site == site))
    if len(distinct) <= 1:
        return distinct[0] if distinct else None
    listed = ", ".join(f"site {c.site} at {c.broker}" for c in distinct)
    if site is not None:
        raise CampusError(
            f"mDNS found the controller of site {site!r} on {len(distinct)} brokers ({listed}): "
            "say which with --broker URL"
        )
    raise CampusError(
        f"mDNS found {len(distinct)} controllers ({listed}): "
        "say which with --site SITE (or --broker URL)"
    )


@dataclass(slots=True)
class Site:
    """A site as its controllers (one, or one per shard) retain it on the broker."""

    id: str
    controllers: list[wire.ControllerMessage] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    """``online`` or ``offline`` per status topic (one per shard)."""
    campus: wire.CampusMessage | None = None
    """Read only when needed (it can be megabytes): `controller_session` reads it for the time
    zone while no controller message is retained (a controller's first seconds)."""

    @property
    def online(self) -> bool:
        return bool(self.statuses) and all(s == "online" for s in self.statuses.values())

    @property
    def controller(self) -> wire.ControllerMessage | None:
        return wire.merge_controllers(self.controllers)

    @property
    def timezone(self) -> str:
        controller = self.controller
        if controller is not None:
            return controller.timezone
        return self.campus.site.timezone if self.campus is not None else "UTC"

    def read_campus(self, client: ControlClient) -> wire.CampusMessage | None:
        """The campus as the controller loaded it (retained), or None."""
        if self.campus is None:
            found = client.retained([wire.Topics(self.id).campus])
            for payload in found.values():
                try:
                    self.campus = wire.decode(wire.CampusMessage, json.loads(payload))
                except ValueError:
                    continue
        return self.campus


def read_sites(client: ControlClient, site: str | None) -> dict[str, Site]:
    """Every site (or `site`) whose controller has retained its message or status."""
    topics = ANY_SITE if site is None else wire.Topics(site)
    messages = client.retained([topics.every(wire.Kind.CONTROLLER), topics.every(wire.Kind.STATUS)])
    sites: dict[str, Site] = {}
    for name, payload in sorted(messages.items()):
        topic = wire.parse_topic(name)
        if topic is None:
            continue
        found = sites.setdefault(topic.site, Site(topic.site))
        if topic.kind is wire.Kind.STATUS:
            found.statuses[name] = payload.decode("utf-8", errors="replace").strip()
            continue
        try:
            data = json.loads(payload)
        except ValueError:
            continue
        found.controllers.append(wire.decode(wire.ControllerMessage, data))
    return sites


def choose_site(sites: dict[str, Site], broker: str) -> Site:
    """The one site on the broker: the one online, or the only one; else CampusError."""
    online = [s for s in sites.values() if s.online]
    candidates = online or list(sites.values())
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise CampusError(
            f"no controller has published on {broker}: is it running, and is this its broker? "
            "(give --site SITE to ask anyway)"
        )
    listed = ", ".join(s.id for s in candidates)
    state = "online" if online else "known"
    raise CampusError(
        f"{len(candidates)} sites are {state} on {broker} ({listed}): say which with --site SITE"
    )


@dataclass(slots=True)
class Session:
    """A connected command: the broker, the site it is about, and who asks."""

    client: ControlClient
    site: Site
    user: str

    def ask(self, name: str, body: dict[str, Any]) -> Any:
        """One request to the site's controller; its answer's data, or CampusError (at once
        when every controller of the site has said it is offline)."""
        statuses = self.site.statuses.values()
        if statuses and all(s == "offline" for s in statuses):
            raise CampusError(
                f"the controller of site {self.site.id!r} is offline on {self.client.address} "
                "(it stopped, or the broker saw it die): start it and ask again"
            )
        return self.client.ask(self.site.id, name, body)


@contextmanager
def controller_session(args: argparse.Namespace) -> Iterator[Session]:
    """Find the controller (module docstring), connect, and settle the site and the user."""
    located = locate(args)
    with ControlClient(located.broker, args.timeout) as client:
        sites = read_sites(client, located.site)
        if located.site is not None:
            site = sites.get(located.site) or Site(located.site)
        else:
            site = choose_site(sites, str(client.address))
        if args.broker is None:
            print(
                f"campusctl: site {site.id} at {client.address} ({located.said})",
                file=sys.stderr,
            )
        if site.controller is None:
            site.read_campus(client)
        user = getattr(args, "user", None) or client.user or login_name()
        yield Session(client, site, user)


def login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "staff")


class ControlClient:
    """One MQTT connection for a command: retained snapshots and request/answer pairs.

    paho runs its network thread (``loop_start``); callers block on events with timeouts.
    """

    def __init__(self, url: str, timeout: float) -> None:
        try:
            self.address = parse_broker_url(url)
        except ValueError as exc:
            raise CampusError(str(exc)) from None
        self.timeout = timeout
        self._client: mqtt.Client | None = None
        self._lock = threading.Condition()
        self._connected: ReasonCode | None = None
        self._acked: set[int] = set()
        self._sink: dict[str, bytes] | None = None
        self._answers: dict[str, wire.Response] = {}

    def __enter__(self) -> ControlClient:
        from campus.mqttclient import connect_failure, paho_client
        from campus.secrets import SecretError

        client_id = f"cli-{uuid.uuid4().hex[:12]}"
        try:
            client, self.address = paho_client(self.address, client_id, reconnect_max=None)
        except (SecretError, ValueError) as exc:
            raise CampusError(f"MQTT broker {self.address}: {exc}") from None
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        try:
            client.connect(self.address.host, self.address.port)
        except OSError as exc:
            failure = connect_failure(self.address, exc)
            raise CampusError(f"cannot reach the broker at {self.address}: {failure}") from None
        self._client = client
        client.loop_start()
        try:
            reason = self._wait(lambda: self._connected, "the broker's answer to connecting")
            if reason.is_failure:
                raise CampusError(f"the broker at {self.address} refused the connection: {reason}")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    @property
    def user(self) -> str | None:
        """The broker account's user name (from the URL or its secrets), if any."""
        return self.address.username

    def retained(self, filters: list[str]) -> dict[str, bytes]:
        """The retained message of every topic under `filters` (empty ones left out)."""
        sink: dict[str, bytes] = {}
        with self._lock:
            self._sink = sink
        try:
            self._subscribe([(f, 0) for f in filters])
            self._subscribe([(ANY_SITE.response(FENCE), 0)])
        finally:
            with self._lock:
                self._sink = None
            self.client.unsubscribe(filters)
        return {topic: payload for topic, payload in sink.items() if payload}

    def ask(self, site: str, name: str, body: dict[str, Any]) -> Any:
        """One request; its answer's data, or CampusError with the controller's refusal."""
        topics = wire.Topics(site)
        transaction = f"cli-{uuid.uuid4().hex[:12]}"
        self._subscribe([(topics.response(name), 1)])
        message = json.dumps({**body, "transaction": transaction})
        self.client.publish(topics.request(name), message, qos=1)
        try:
            answer = self._wait(lambda: self._answers.get(transaction), "")
        except TimeoutError:
            raise CampusError(
                f"the controller of site {site!r} did not answer within {self.timeout:g} s on "
                f"{self.address}: is it running?"
            ) from None
        if answer.status != "ok":
            raise CampusError(f"the controller refused: {answer.error}")
        return answer.data

    @property
    def client(self) -> mqtt.Client:
        if self._client is None:
            raise CampusError("ControlClient is used outside `with`")
        return self._client

    def _subscribe(self, filters: list[tuple[str, int]]) -> None:
        result, mid = self.client.subscribe(filters)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise CampusError(f"lost the broker at {self.address} ({mqtt.error_string(result)})")
        self._wait(
            lambda: mid if mid in self._acked else None, "the broker's answer to subscribing"
        )

    def _wait(self, ready: Callable[[], T | None], what: str) -> T:
        """What `ready` returns once it is not None; TimeoutError (`what` empty) or
        CampusError naming `what` after the timeout."""
        with self._lock:
            if not self._lock.wait_for(lambda: ready() is not None, self.timeout):
                if not what:
                    raise TimeoutError
                raise CampusError(f"no answer from the broker at {self.address} for {what}")
            found = ready()
            assert found is not None
            return found

    # -- paho callbacks (its network thread) ---------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._connected = reason
            self._lock.notify_all()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._acked.add(mid)
            self._lock.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        topic = wire.parse_topic(message.topic)
        if topic is not None and topic.kind is wire.Kind.RESPONSE:
            try:
                response = wire.decode(wire.Response, json.loads(message.payload))
            except ValueError:
                return
            if isinstance(response.transaction, str):
                with self._lock:
                    self._answers[response.transaction] = response
                    self._lock.notify_all()
            return
        with self._lock:
            if self._sink is not None:
                self._sink[message.topic] = bytes(message.payload)
