"""The broker as docs/security.md deploys it: TLS only, no anonymous or wrong-password access,
and an ACL that does what the page says, checked message by message on a real Mosquitto."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.security.clients import Account, Monitor, logins
from tests.security.conftest import PASSWORDS
from tests.support.secure_mosquitto import SecureBroker

pytestmark = pytest.mark.mqtt

OWN_STATE = "zigbee2mqtt/main-r101-light"
OTHER_STATE = "zigbee2mqtt/main-r102-light"
REQUEST = "campusctl/demo/request/override"


@pytest.fixture
def monitor(secure_broker: SecureBroker) -> Iterator[Monitor]:
    watcher = Monitor(secure_broker, "monitor", PASSWORDS["monitor"])
    yield watcher
    watcher.close()


@pytest.fixture
def login(secure_broker: SecureBroker) -> Iterator[Callable[[str], Account]]:
    with logins(secure_broker, PASSWORDS) as open_as:
        yield open_as


def test_anonymous_clients_are_refused(secure_broker: SecureBroker) -> None:
    anonymous = Account(secure_broker, None)
    try:
        assert not anonymous.connected
        assert anonymous.refusal is not None
        assert "authori" in anonymous.refusal.lower()
    finally:
        anonymous.close()


def test_a_wrong_password_is_refused(secure_broker: SecureBroker) -> None:
    intruder = Account(secure_broker, "alice", "guess")
    try:
        assert not intruder.connected
        assert intruder.refusal is not None
        assert "authori" in intruder.refusal.lower()
    finally:
        intruder.close()


def test_plain_tcp_gets_nowhere(secure_broker: SecureBroker) -> None:
    """The listener speaks only TLS: a client without it never gets a CONNACK."""
    plain = Account(secure_broker, "alice", PASSWORDS["alice"], tls=False)
    try:
        assert not plain.connected
    finally:
        plain.close()


def test_a_device_publishes_only_its_own_topics(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    light = login("main-r101-light")
    light.publish(OWN_STATE, '{"state":"ON"}')
    light.publish(f"{OWN_STATE}/availability", '{"state":"online"}')
    assert monitor.saw(OWN_STATE, '{"state":"ON"}')
    assert monitor.saw(f"{OWN_STATE}/availability", '{"state":"online"}')

    light.publish(OTHER_STATE, '{"state":"OFF","forged":true}')
    light.publish(f"{OTHER_STATE}/set", '{"state":"ON","forged":true}')
    light.publish(REQUEST, '{"actuator":"main.r101.lights","value":true,"user":"alice"}')
    light.publish("campusctl/demo/status", "offline")
    monitor.settled()
    assert monitor.received(OTHER_STATE) == []
    assert monitor.received(f"{OTHER_STATE}/set") == []
    assert monitor.received(REQUEST) == []
    assert monitor.received("campusctl/demo/status") == []


def test_a_device_reads_only_its_own_commands_and_the_heartbeat(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    light = login("main-r101-light")
    light.subscribe("zigbee2mqtt/#")
    light.subscribe("campusctl/+/heartbeat")
    controller = login("controller")
    controller.publish(f"{OTHER_STATE}/set", '{"state":"ON"}')
    controller.publish(f"{OWN_STATE}/set", '{"state":"ON"}')
    controller.publish("campusctl/demo/heartbeat", '{"ts":1}')
    controller.publish("campusctl/demo/alarms", '{"alarms":[]}')
    assert monitor.saw("campusctl/demo/heartbeat", '{"ts":1}')
    light.publish(OWN_STATE, "{}")  # after the commands: when it is back, they were delivered
    assert monitor.saw(OWN_STATE, "{}")
    assert light.received(f"{OWN_STATE}/set") == [b'{"state":"ON"}']
    assert light.received(f"{OTHER_STATE}/set") == []
    assert light.received("campusctl/demo/heartbeat") == [b'{"ts":1}']
    assert light.received("campusctl/demo/alarms") == []


def test_a_read_only_account_reads_but_cannot_publish(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    display = login("display")
    display.subscribe("campusctl/#")
    login("controller").publish("campusctl/demo/alarms", '{"alarms":[]}')
    assert monitor.saw("campusctl/demo/alarms", '{"alarms":[]}')
    for topic in (REQUEST, f"{OWN_STATE}/set", "campusctl/demo/alarms", OWN_STATE):
        display.publish(topic, "from-display")
    monitor.settled()
    assert all(payload != b"from-display" for _, payload in monitor.messages)
    assert b'{"alarms":[]}' in display.received("campusctl/demo/alarms")


def test_staff_can_request_but_not_command_devices(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    alice = login("alice")
    alice.publish(REQUEST, '{"user":"alice"}')
    assert monitor.saw(REQUEST, '{"user":"alice"}')
    alice.publish(f"{OWN_STATE}/set", "from-alice")
    alice.publish("campusctl/demo/room/main/r101", "from-alice")
    monitor.settled()
    assert all(payload != b"from-alice" for _, payload in monitor.messages)


def test_the_controller_reads_devices_and_commands_them(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    controller = login("controller")
    controller.subscribe("zigbee2mqtt/#")
    controller.subscribe("campusctl/+/request/+")
    bridge = login("zigbee2mqtt")
    bridge.publish("zigbee2mqtt/main-r101-multisensor", '{"co2":800}')
    login("alice").publish(REQUEST, '{"user":"alice","n":2}')
    controller.publish(f"{OWN_STATE}/set", '{"state":"OFF"}')
    assert monitor.saw(f"{OWN_STATE}/set", '{"state":"OFF"}')
    assert controller.received("zigbee2mqtt/main-r101-multisensor") == [b'{"co2":800}']
    assert controller.received(REQUEST) == [b'{"user":"alice","n":2}']
