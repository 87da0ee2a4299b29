"""controller.shard.Claim on a real Mosquitto: overlapping buildings and a shared client id are
refused while the first claim lives; a released claim frees its buildings at once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from campus.brokerurl import parse_broker_url
from campus.model import Building, Campus, Site
from campus.problems import CampusError
from controller.shard import Claim, parse_shard
from tests.support.mosquitto import Broker, running_mosquitto

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


def test_a_stop_after_the_broker_is_gone_says_the_claim_was_not_cleared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`campusctl run` whose broker stopped first: releasing its claim at the stop logs that
    the claim could not be cleared (the broker clears or forgets it itself) and does not
    fail the stop with a traceback."""
    with running_mosquitto(tmp_path / "gone") as gone:
        taken = claim(gone, "b1", "orphan")
    with caplog.at_level(logging.WARNING, logger="campusctl.shard"):
        taken.release()
    warned = [r.getMessage() for r in caplog.records if r.name == "campusctl.shard"]
    assert len(warned) == 1
    assert warned[0].startswith(f"shard b1: could not clear the claim on {gone.url}")
