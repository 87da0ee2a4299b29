"""Shards: several controller processes sharing one campus, each owning whole buildings.

`campusctl run --shard main,science` controls only those buildings: the campus model is cut down
once at start (`restrict`), so the engine, the drivers and the control plane see only the owned
rooms, and nothing else changes in them. Ownership is by building because rules fan out over a
room's own points and actuators: a building never needs two processes.

Rules may read another building's points by full id (``science.r201.co2``). Those points stay
in the shard's campus, in *reference rooms*: the other building's room with only the referenced
points and no actuator, so the drivers subscribe to them and the engine knows their values, but
no rule instance is made there and the control plane does not publish them (their owner does).

No actuator may be owned twice: before it connects its drivers, a shard claims its buildings
(`Claim`) on the broker with a retained ``campusctl/<site>/shard/<name>`` message on a small
connection of its own whose last will clears that message, so a retained claim means a live shard.
A claim overlapping another live shard's buildings is refused. docs/scaling.md is the operator's
side.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt

from campus import wire
from campus.brokerurl import BrokerAddress
from campus.model import Building, Campus, Room
from campus.mqttclient import connect_failure, paho_client
from campus.problems import CampusError
from rules.schema import RuleSet

if TYPE_CHECKING:
    from controller.service import ServiceOptions

log = logging.getLogger("campusctl.shard")

CLAIM_KEEPALIVE = 10
"""Seconds: a killed shard's claim disappears about 1.5 times this after its death."""


@dataclass(frozen=True, slots=True)
class Shard:
    """The buildings one controller process owns, and the whole campus they belong to."""

    name: str
    """``main-science`` for ``--shard main,science``: in topics, client ids and file names."""
    buildings: tuple[str, ...]
    whole: Campus
    """The full campus: the control plane describes all of it, so every shard's retained
    campus message is the same and a TUI sees every room."""

    def owns(self, room_id: str) -> bool:
        return room_id.partition(".")[0] in self.buildings

    def owned_rooms(self, campus: Campus) -> list[Room]:
        """`campus`'s rooms in owned buildings (reference rooms left out)."""
        return [room for room in campus.rooms if room.building in self.buildings]


def parse_shard(text: str, campus: Campus) -> Shard:
    """``main,science`` -> a Shard of `campus`; unknown or repeated buildings are errors."""
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    known = [b.id for b in campus.buildings]
    if not wanted:
        raise CampusError(f"--shard needs building ids separated by commas; known: {known}")
    for building in wanted:
        if building not in known:
            raise CampusError(
                f"--shard: no building {building!r} in {campus.source or 'the campus'}; "
                f"known: {', '.join(known)}"
            )
    if len(set(wanted)) != len(wanted):
        raise CampusError(f"--shard names a building twice: {text!r}")
    ordered = tuple(b for b in known if b in wanted)
    return Shard("-".join(ordered), ordered, campus)


def foreign_references(ruleset: RuleSet, shard: Shard) -> dict[str, set[str]]:
    """Room id -> point names that `ruleset` reads by full id in buildings the shard does not
    own (`ruleset` loaded against the whole campus, where every full id resolves)."""
    points = shard.whole.points()
    found: dict[str, set[str]] = {}
    for rule in ruleset.rules:
        for expression in rule.expressions():
            for name in expression.names:
                spec = points.get(name)
                if spec is not None and not shard.owns(spec.room):
                    found.setdefault(spec.room, set()).add(spec.name)
    return found


def restrict(shard: Shard, references: dict[str, set[str]]) -> Campus:
    """The campus as the shard's controller sees it: owned buildings whole, plus reference
    rooms (referenced points only, no actuators) of the others."""
    buildings: list[Building] = []
    for building in shard.whole.buildings:
        if building.id in shard.buildings:
            buildings.append(building)
            continue
        rooms = tuple(
            dataclasses.replace(
                room,
                points={n: p for n, p in room.points.items() if n in references[room.id]},
                actuators={},
            )
            for room in building.rooms
            if room.id in references
        )
        if rooms:
            buildings.append(dataclasses.replace(building, rooms=rooms))
    return dataclasses.replace(shard.whole, buildings=tuple(buildings))


def owned_rules(ruleset: RuleSet, shard: Shard) -> RuleSet:
    """`ruleset` with instances in owned rooms only (never in a reference room)."""
    rules = [
        dataclasses.replace(rule, rooms=tuple(r for r in rule.rooms if shard.owns(r)))
        for rule in ruleset.rules
    ]
    return dataclasses.replace(ruleset, rules=rules)


class ClaimRefused(CampusError):
    """Another live controller owns what this one would control."""


SITE = "site"
"""The claim name of a controller that runs the whole site (no --shard)."""
PING_TIMEOUT = 2.0
"""Seconds a claim of this controller's own name gets to answer before it counts as left
behind by a run that died (its last will not yet delivered)."""


class Claim:
    """A controller's ownership on the broker: retained while the process lives (see the
    module docstring). A live claim answers pings on its own connection, so a claim of the
    same name left by a killed run (its last will comes only after the keepalive) is told
    from a second live controller at once."""

    def __init__(self, address: BrokerAddress, shard: Shard, client_id: str) -> None:
        self.shard = shard
        self.client_id = client_id
        topics = wire.Topics(shard.whole.site.id)
        self.filter = topics.claim("+")
        self.topic = topics.claim(shard.name)
        self._probe = topics.claim_probe(shard.name)
        self._ping, self._pong = topics.claim_ping(shard.name), topics.claim_pong(shard.name)
        self._address = address
        self._client: mqtt.Client | None = None
        self._claims: dict[str, wire.ShardClaim | None] = {}
        self._connected = threading.Event()
        self._probed = threading.Event()
        self._answered = threading.Event()
        self._token = secrets.token_hex(8)
        self._held = False
        self._refusal = ""

    @property
    def what(self) -> str:
        name = self.shard.whole.site.id
        return f"site {name}" if self.shard.name == SITE else f"shard {self.shard.name}"

    def take(self, timeout: float = 10.0) -> None:
        """Connect, read the live claims, refuse (ClaimRefused) an overlap or a live claim of
        the same name, else claim; CampusError when the broker cannot be asked."""
        client_id = f"{self.client_id}-claim-{secrets.token_hex(4)}"
        client, self._address = paho_client(self._address, client_id, reconnect_max=1)
        client.will_set(self.topic, b"", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        self._client = client
        try:
            client.connect(self._address.host, self._address.port, CLAIM_KEEPALIVE)
        except OSError as exc:
            failure = connect_failure(self._address, exc)
            raise CampusError(f"{self.what}: cannot reach {self._address}: {failure}") from exc
        client.loop_start()
        if not self._connected.wait(timeout):
            self.release()
            raise CampusError(
                f"{self.what}: {self._address} did not accept the claim connection"
                f"{': ' + self._refusal if self._refusal else ''}"
            )
        client.subscribe([(self.filter, 1), (self._probe, 1), (self._pong, 1)])
        client.publish(self._probe, b"", qos=1)
        if not self._probed.wait(timeout):
            self.release()
            raise CampusError(f"{self.what}: no answer from {self._address}")
        refusals = self._overlaps() + self._live_namesake()
        if refusals:
            self.release()
            raise ClaimRefused(
                f"{self.what}: refused to start: "
                + "; ".join(refusals)
                + ". Each building must have one controller: stop that one, or run shards of "
                "other buildings (docs/scaling.md)"
            )
        claim = wire.ShardClaim(
            shard=self.shard.name,
            buildings=list(self.shard.buildings),
            client_id=self.client_id,
            since=time.time(),
        )
        sent = client.publish(self.topic, wire.encode(claim), qos=1, retain=True)
        sent.wait_for_publish(timeout)
        if not sent.is_published():
            self.release()
            raise CampusError(f"{self.what}: {self._address} did not take the claim")
        self._held = True
        client.subscribe(self._ping, qos=1)
        log.info("%s: claimed buildings %s", self.what, ", ".join(self.shard.buildings))

    def release(self) -> None:
        """Clear the claim (a clean stop) and disconnect."""
        client, self._client = self._client, None
        if client is None:
            return
        if self._connected.is_set():
            if self._held:
                self._clear(client)
            client.disconnect()
        client.loop_stop()
        self._held = False

    def _clear(self, client: mqtt.Client) -> None:
        """Publish the empty claim; if the broker cannot take it (gone, or the connection
        lost), say so rather than fail the stop: the broker clears the claim itself when it
        sees the connection end (the claim's last will), and forgets it if it stopped
        without persistence."""
        sent = client.publish(self.topic, b"", qos=1, retain=True)
        failure = "no acknowledgement within 5 s"
        try:
            sent.wait_for_publish(5)
            cleared = sent.is_published()
        except (RuntimeError, ValueError) as exc:  # paho: not connected, not queued
            failure, cleared = str(exc), False
        if not cleared:
            log.warning(
                "%s: could not clear the claim on %s: %s", self.what, self._address, failure
            )

    def _overlaps(self) -> list[str]:
        mine = set(self.shard.buildings)
        found = []
        for topic, claim in self._claims.items():
            name = topic.rpartition("/")[2]
            if name == self.shard.name or claim is None:
                continue
            taken = mine & set(claim.buildings)
            if taken:
                owner = f"{_owner(name)} (client {claim.client_id or '?'})"
                found.append(f"{', '.join(sorted(taken))} already owned by live {owner}")
            elif claim.client_id == self.client_id:
                found.append(
                    f"live {_owner(name)} uses the MQTT client id {self.client_id!r} too "
                    "(the broker would disconnect one for the other: drop --client-id)"
                )
        return found

    def _live_namesake(self) -> list[str]:
        """A claim of this name that answers a ping: another live controller of the same
        buildings (a second `campusctl run` of the site, or of the same shard)."""
        claim = self._claims.get(self.topic)
        if claim is None:
            return []
        assert self._client is not None
        self._client.publish(self._ping, self._token.encode(), qos=1)
        if not self._answered.wait(PING_TIMEOUT):
            log.info(
                "%s: the claim of client %s (since %s) did not answer: left by a run that "
                "stopped without clearing it; taking over",
                self.what,
                claim.client_id,
                time.strftime("%H:%M:%S", time.localtime(claim.since)),
            )
            return []
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(claim.since))
        return [
            f"another live controller runs it already (MQTT client id {claim.client_id!r}, "
            f"since {since})"
        ]

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object,
                    properties: object = None) -> None:  # fmt: skip
        if getattr(reason, "is_failure", False):
            self._refusal = str(reason)
            return
        self._connected.set()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        topic = message.topic
        if topic == self._probe:
            self._probed.set()
            return
        if topic == self._ping:
            if self._held and message.payload != self._token.encode():
                client.publish(self._pong, message.payload, qos=1)
            return
        if topic == self._pong:
            if message.payload == self._token.encode():
                self._answered.set()
            return
        if not message.payload:
            self._claims[topic] = None  # a cleared claim
            return
        try:
            data = json.loads(message.payload)
        except ValueError:
            log.warning("claims: %s is not a JSON claim; ignored", topic)
            return
        self._claims[topic] = wire.decode(wire.ShardClaim, data)


def _owner(name: str) -> str:
    return "controller of the whole site" if name == SITE else f"shard {name}"


def claim_site(campus: Campus, options: ServiceOptions) -> Claim | None:
    """`campusctl run` without --shard: the whole site claimed on the broker, so a second
    controller of the site refuses to start (ClaimRefused) rather than fight the first for
    its client id. A broker that cannot be asked at start (down, refusing) is not a reason to
    stay down: the controller starts and keeps trying its connection (warned)."""
    from drivers.mqtt import MqttSettings

    client_id = options.client_id or f"campusctl-{campus.site.id}"
    whole = Shard(SITE, tuple(b.id for b in campus.buildings), campus)
    claim = Claim(MqttSettings(url=options.broker_url, client_id=client_id).endpoint(), whole,
                  client_id)  # fmt: skip
    try:
        claim.take(timeout=5.0)
    except ClaimRefused:
        raise
    except CampusError as exc:
        claim.release()
        log.warning("could not check for another controller of this site (%s); starting", exc)
        return None
    return claim


def prepare(text: str, campus: Campus, ruleset: RuleSet) -> tuple[Shard, Campus, RuleSet]:
    """`--shard TEXT` applied: the shard, its campus, and its rules (loaded again against that
    campus from the same sources, so compiled names point at the shard's own model)."""
    from rules.loader import load_rules

    shard = parse_shard(text, campus)
    mine = restrict(shard, foreign_references(ruleset, shard))
    reloaded = load_rules(ruleset.sources, mine)
    for problem in reloaded.problems:
        if problem not in ruleset.problems:
            log.warning("shard %s: %s", shard.name, problem)
    return shard, mine, owned_rules(reloaded, shard)


def claim_shard(
    text: str, campus: Campus, ruleset: RuleSet, options: ServiceOptions
) -> tuple[Campus, RuleSet, ServiceOptions, Claim]:
    """`campusctl run --shard TEXT`: the shard's campus, rules and options, with its buildings
    claimed on the broker (release the claim when the controller stops)."""
    from drivers.mqtt import MqttSettings

    shard, mine, rules = prepare(text, campus, ruleset)
    client_id = options.client_id or f"campusctl-{campus.site.id}-{shard.name}"
    options = dataclasses.replace(options, shard=shard, client_id=client_id)
    claim = Claim(MqttSettings(url=options.broker_url, client_id=client_id).endpoint(), shard,
                  client_id)  # fmt: skip
    claim.take()
    return mine, rules, options, claim


def answers(shard: Shard, payload: bytes) -> bool:
    """Whether this shard answers a control-plane request: not when it names an actuator, alarm,
    room or explain target in a building another shard owns (that one answers, so a client gets
    one answer). Requests about no building (rules, reload) and malformed ones: every shard."""
    try:
        body = json.loads(payload)
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    for key in ("actuator", "alarm", "room", "target"):
        value = body.get(key)
        if isinstance(value, str) and value:
            where = value.rpartition("@")[2]
            building = where.partition(".")[0] if "." in where else ""
            known = any(b.id == building for b in shard.whole.buildings)
            if known and building not in shard.buildings:
                return False
    return True
