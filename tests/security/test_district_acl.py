"""The district broker as docs/security.md deploys it: TLS, passwords and the district ACL on a
real Mosquitto. A school's bridge links with its own account; north's accounts (its bridge, its
operator alice) reach north and never south; each role sends only its requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from campus.brokerurl import parse_broker_url
from controller.district import bridge_config
from tests.security.clients import Account, Monitor, logins
from tests.security.conftest import MONITOR_ACL
from tests.support.mosquitto import running_mosquitto
from tests.support.secure_mosquitto import (
    SecureBroker,
    documented_district_acl,
    running_secure_mosquitto,
)
from tests.support.waiting import wait_for_blocking

pytestmark = pytest.mark.mqtt

PASSWORDS = {
    user: f"{user}-pw"
    for user in (
        "north-bridge",
        "south-bridge",
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "display",
        "monitor",
    )
}
NORTH_OVERRIDE = "campusctl/north/request/override"
SOUTH_OVERRIDE = "campusctl/south/request/override"


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    folder = tmp_path_factory.mktemp("district-mosquitto")
    acl = documented_district_acl() + MONITOR_ACL
    with running_secure_mosquitto(folder, PASSWORDS, acl) as broker:
        yield broker


@pytest.fixture
def monitor(district: SecureBroker) -> Iterator[Monitor]:
    watcher = Monitor(district, "monitor", PASSWORDS["monitor"])
    yield watcher
    watcher.close()


@pytest.fixture
def login(district: SecureBroker) -> Iterator[Callable[[str], Account]]:
    with logins(district, PASSWORDS) as open_as:
        yield open_as


def arrives(account: Account, topic: str, payload: str) -> None:
    wait_for_blocking(
        lambda: payload.encode() in account.received(topic),
        f"{payload} on {topic} at {account.user}",
        10,
    )


def test_north_cannot_send_a_request_to_south(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    south = login("south-bridge")
    south.subscribe("campusctl/south/request/#")
    north = login("north-bridge")
    north.subscribe("campusctl/north/request/#")
    for user in ("alice", "north-bridge"):
        login(user).publish(SOUTH_OVERRIDE, f'{{"user":"{user}","forged":true}}')
    login("alice").publish(NORTH_OVERRIDE, '{"user":"alice"}')
    arrives(north, NORTH_OVERRIDE, '{"user":"alice"}')
    # south's own author after them: once dave's request is in, theirs would have been too
    login("dave").publish(SOUTH_OVERRIDE, '{"user":"dave"}')
    arrives(south, SOUTH_OVERRIDE, '{"user":"dave"}')
    assert south.received(SOUTH_OVERRIDE) == [b'{"user":"dave"}']
    monitor.settled()
    assert monitor.received(SOUTH_OVERRIDE) == [b'{"user":"dave"}']


def test_north_cannot_read_south(login: Callable[[str], Account]) -> None:
    alice = login("alice")
    alice.subscribe("campusctl/south/#")
    alice.subscribe("campusctl/north/#")
    north = login("north-bridge")
    north.subscribe("campusctl/south/#")
    north.subscribe("campusctl/north/request/#")
    south = login("south-bridge")
    south.publish("campusctl/south/room/main/r101", '{"school":"south"}')
    login("dave").publish(SOUTH_OVERRIDE, '{"user":"dave"}')
    north.publish("campusctl/north/room/main/r101", '{"school":"north"}')
    login("alice").publish(NORTH_OVERRIDE, '{"user":"alice"}')
    arrives(alice, "campusctl/north/room/main/r101", '{"school":"north"}')
    arrives(alice, NORTH_OVERRIDE, '{"user":"alice"}')
    arrives(north, NORTH_OVERRIDE, '{"user":"alice"}')
    for account in (alice, north):
        assert not [t for t, _ in account.messages if t.startswith("campusctl/south/")]
    bob = login("bob")
    bob.subscribe("campusctl/#")
    south.publish("campusctl/south/room/main/r102", '{"school":"south"}')
    arrives(bob, "campusctl/south/room/main/r102", '{"school":"south"}')


def test_a_school_cannot_publish_another_school_s_state(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    north = login("north-bridge")
    for topic in ("campusctl/south/room/main/r101", "campusctl/south/bridge", "campusctl/demo/x"):
        north.publish(topic, "from-north")
    north.publish("campusctl/north/room/main/r101", "north-state")
    assert monitor.saw("campusctl/north/room/main/r101", "north-state")
    assert all(payload != b"from-north" for _, payload in monitor.messages)


def test_each_role_sends_only_its_requests(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    sent = {
        "alice": ["north/override", "north/acknowledge", "north/trends", "north/reload"],
        "carol": ["south/explain", "south/events", "south/override", "south/release"],
        "dave": ["south/disable_rule", "south/reload", "north/disable_rule"],
        "bob": ["north/override", "south/release", "south/enable_rule"],
        "erin": ["north/reload", "south/explain", "south/override", "south/reload"],
        "display": ["south/explain", "north/override"],
    }
    allowed = {
        "alice": ["north/override", "north/acknowledge", "north/trends"],
        "carol": ["south/explain", "south/events"],
        "dave": ["south/disable_rule", "south/reload"],
        "bob": ["north/override", "south/release"],
        "erin": ["north/reload", "south/explain"],
        "display": [],
    }
    for user, requests in sent.items():
        account = login(user)
        for request in requests:
            site, name = request.split("/")
            account.publish(f"campusctl/{site}/request/{name}", json.dumps({"user": user}))
    monitor.settled()
    passed: dict[str, list[str]] = {user: [] for user in sent}
    for topic, payload in monitor.messages:
        if "/request/" in topic:
            site, _, name = topic.removeprefix("campusctl/").split("/")
            passed[json.loads(payload)["user"]].append(f"{site}/{name}")
    assert passed == allowed


@pytest.mark.district
def test_a_school_links_to_the_district_with_its_own_account(
    district: SecureBroker, monitor: Monitor, login: Callable[[str], Account], tmp_path: Path
) -> None:
    """The block `campusctl district bridge-config` prints, with north-bridge's account: the
    link state, the school's state out, the district's request for north in."""
    secret = district.password_file("north-bridge", tmp_path)
    url = f"{district.url('north-bridge')}&password_file={secret}"
    block = bridge_config("north", parse_broker_url(url))
    with running_mosquitto(tmp_path / "north", extra=block) as school:
        local = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        requests: list[bytes] = []
        subscribed = threading.Event()
        local.on_message = lambda _c, _u, msg: requests.append(bytes(msg.payload))
        local.on_subscribe = lambda *_: subscribed.set()
        local.connect(school.host, school.port)
        local.loop_start()
        try:
            local.subscribe("campusctl/north/request/#", qos=1)
            assert subscribed.wait(10), "no SUBACK from north's broker"
            wait_for_blocking(
                lambda: monitor.received("campusctl/north/bridge")[-1:] == [b"1"],
                "north's link state on the district",
                30,
            )
            local.publish("campusctl/north/room/main/r101", '{"linked":true}', qos=1)
            wait_for_blocking(
                lambda: monitor.received("campusctl/north/room/main/r101") == [b'{"linked":true}'],
                "north's room state on the district",
            )
            login("alice").publish(NORTH_OVERRIDE, '{"user":"alice","over":"the link"}')
            wait_for_blocking(
                lambda: b'{"user":"alice","over":"the link"}' in requests,
                "alice's request at north's broker",
            )
        finally:
            local.disconnect()
            local.loop_stop()
