"""controller.shard.Claim on a real Mosquitto: overlapping buildings and a shared client id are
refused while the first claim lives; a released claim frees its buildings at once."""

from __future__ import annotations

import pytest

from campus.brokerurl import parse_broker_url
from campus.model import Building, Campus, Site
from campus.problems import CampusError
from controller.shard import Claim, parse_shard
from tests.support.mosquitto import Broker

pytestmark = pytest.mark.mqtt

CAMPUS = Campus(
    Site("claimtest", "Claim School", "Europe/Oslo"),
    tuple(Building(b, b, ()) for b in ("b1", "b2", "b3")),
)


def claim(broker: Broker, buildings: str, client_id: str) -> Claim:
    taken = Claim(parse_broker_url(broker.url), parse_shard(buildings, CAMPUS), client_id)
    taken.take()
    return taken


def test_overlap_and_shared_client_id_are_refused_until_released(broker: Broker) -> None:
    first = claim(broker, "b1,b2", "one")
    try:
        with pytest.raises(CampusError, match=r"b2 already owned by live shard b1-b2 \(client one"):
            claim(broker, "b2,b3", "two")
        with pytest.raises(CampusError, match="uses the MQTT client id 'one' too"):
            claim(broker, "b3", "one")
        claim(broker, "b3", "three").release()
    finally:
        first.release()
    claim(broker, "b2,b3", "two").release()


def test_a_claim_over_mqtts_on_a_plain_port_asks_whether_it_is_a_tls_port(broker: Broker) -> None:
    address = parse_broker_url(f"mqtts://{broker.host}:{broker.port}")
    plain_port = Claim(address, parse_shard("b1", CAMPUS), "tls-to-plain")
    with pytest.raises(CampusError) as refused:
        plain_port.take(timeout=5.0)
    plain_port.release()
    assert str(refused.value).startswith(
        f"shard b1: cannot reach {address}: the broker did not answer TLS: is it a TLS port? ("
    )
