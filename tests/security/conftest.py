"""A Mosquitto with TLS, passwords and docs/security.md's ACL, shared by the security tests.

One account per role of the documented ACL, plus a test-only `monitor` that may read and write
everything, so a test can see what the broker let through.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.secure_mosquitto import SecureBroker, documented_acl, running_secure_mosquitto

PASSWORDS = {
    "controller": "controller-pw",
    "zigbee2mqtt": "bridge-pw",
    "alice": "alice-pw",
    "bob": "bob-pw",
    "display": "display-pw",
    "main-r101-light": "r101-light-pw",
    "main-r102-light": "r102-light-pw",
    "monitor": "monitor-pw",
}
MONITOR_ACL = "\n# test only: sees and may send everything\nuser monitor\ntopic readwrite #\n"


@pytest.fixture(scope="session")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    folder = tmp_path_factory.mktemp("secure-mosquitto")
    with running_secure_mosquitto(folder, PASSWORDS, documented_acl() + MONITOR_ACL) as broker:
        yield broker
