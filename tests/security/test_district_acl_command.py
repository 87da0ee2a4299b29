"""`campusctl district acl`: the district broker's ACL written from the staff file. The block
docs/security.md shows is what it prints; on a real Mosquitto with what it prints for another
file, an operator of north reaches north and nothing of south, a viewer sends no change, a
person with a list of roles gets each where it holds, and a bridge sends no request."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from campus.problems import CampusError, ConfigError
from controller.cli import main
from controller.district import district_acl
from controller.district import main as district_main
from controller.roles import load_staff_file
from tests.controller.test_roles import documented_staff_file
from tests.security.clients import Account, Monitor, logins
from tests.security.conftest import MONITOR_ACL
from tests.support.secure_mosquitto import (
    SecureBroker,
    documented_district_acl,
    running_secure_mosquitto,
)
from tests.support.waiting import wait_for_blocking

STAFF = """\
olga: {role: operator, sites: [north]}
vic: {role: viewer, sites: [north, south]}
fay:
  - {role: author, sites: [south]}
  - {role: viewer, sites: all}
"""
ACCOUNTS = ("north-bridge", "south-bridge", "olga", "vic", "fay", "wall", "monitor")
PASSWORDS = {user: f"{user}-pw" for user in ACCOUNTS}


def test_the_documented_district_acl_is_what_the_command_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staff_file = documented_staff_file(tmp_path)
    args = ["acl", "--staff-file", str(staff_file), "--sites", "north", "--sites", "south"]
    assert district_main([*args, "--read-only", "display"]) == 0
    printed = capsys.readouterr().out
    assert printed == documented_district_acl()
    assert printed == district_acl(load_staff_file(staff_file), ["north", "south"], ["display"])


def test_mistakes_are_refused_with_their_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    staff_file = tmp_path / "staff.yaml"
    staff_file.write_text(
        "alice: {role: operator, sites: [nroth]}\n"
        "bob:\n"
        "  - {role: viewer, sites: all}\n"
        "  - {role: author, sites: [north, east]}\n"
    )
    assert main(["district", "acl", "--staff-file", str(staff_file), "--sites", "north,south"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{staff_file}:1:32: alice: site 'nroth' is not one of the district's "
        "(--sites north,south)",
        f"{staff_file}:4:27: bob: site 'east' is not one of the district's (--sites north,south)",
    ]
    staff = load_staff_file(documented_staff_file(tmp_path))
    for sites, read_only, message in [
        ([], [], "--sites: name the district's schools"),
        (["north", "North"], [], "--sites: 'North' is not a site id"),
        (["north", "south", "north"], [], "--sites names north more than once"),
        (["north", "south"], ["bob"], "--read-only bob: that account has another block"),
        (["north", "south"], ["north-bridge"], "--read-only north-bridge: that account has"),
        (["north", "south"], ["wall", "wall"], "--read-only wall: that account has another"),
        (["north", "south"], ["two words"], "--read-only: 'two words' cannot be an account"),
    ]:
        with pytest.raises(CampusError, match=message):
            district_acl(staff, sites, read_only)
    bridge_named = tmp_path / "bridge.yaml"
    bridge_named.write_text("north-bridge: {role: author, sites: [north]}\n")
    with pytest.raises(CampusError, match="that is school north's bridge account"):
        district_acl(load_staff_file(bridge_named), ["north"])
    with pytest.raises(ConfigError):
        district_acl(staff, ["north"])  # the file names south


def test_a_role_per_place_gives_each_place_its_lines(tmp_path: Path) -> None:
    """fay: author of south, viewer everywhere; a site named again at a role no higher than
    all's adds no line."""
    staff_file = tmp_path / "staff.yaml"
    staff_file.write_text(
        "fay:\n"
        "  - {role: author, sites: [south]}\n"
        "  - {role: viewer, sites: all}\n"
        "  - {role: viewer, sites: [north]}\n"
        "gus:\n"
        "  - {role: viewer, sites: [north]}\n"
        "  - {role: operator, sites: [north]}\n"
    )
    printed = district_acl(load_staff_file(staff_file), ["north", "south"])
    assert printed.endswith(
        "\n\n# fay: an author of south, a viewer of every site and a viewer of north.\n"
        "user fay\n"
        "topic read campusctl/#\n"
        "topic write campusctl/south/request/+\n"
        "topic write campusctl/+/request/explain\n"
        "topic write campusctl/+/request/trends\n"
        "topic write campusctl/+/request/events\n"
        "\n"
        "# gus: a viewer of north and an operator of north.\n"
        "user gus\n"
        "topic read campusctl/north/#\n"
        "topic write campusctl/north/request/explain\n"
        "topic write campusctl/north/request/trends\n"
        "topic write campusctl/north/request/events\n"
        "topic write campusctl/north/request/override\n"
        "topic write campusctl/north/request/release\n"
        "topic write campusctl/north/request/acknowledge\n"
    )


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    folder = tmp_path_factory.mktemp("generated-acl")
    staff_file = folder / "staff.yaml"
    staff_file.write_text(STAFF)
    acl = district_acl(load_staff_file(staff_file), ["north", "south"], ["wall"])
    with running_secure_mosquitto(folder / "broker", PASSWORDS, acl + MONITOR_ACL) as broker:
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


def requests_passed(monitor: Monitor) -> list[str]:
    """``user: site/name`` for every request the broker let through, in order."""
    monitor.settled()
    return [
        f"{json.loads(payload)['user']}: {topic.split('/')[1]}/{topic.split('/')[3]}"
        for topic, payload in monitor.messages
        if topic.split("/")[2:3] == ["request"]
    ]


@pytest.mark.mqtt
def test_an_operator_of_north_sends_requests_to_north_only(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    south = login("south-bridge")
    south.subscribe("campusctl/south/request/#")
    north = login("north-bridge")
    north.subscribe("campusctl/north/request/#")
    olga = login("olga")
    olga.publish("campusctl/south/request/override", '{"user":"olga","to":"south"}')
    olga.publish("campusctl/north/request/override", '{"user":"olga","to":"north"}')
    wait_for_blocking(
        lambda: (
            north.received("campusctl/north/request/override") == [b'{"user":"olga","to":"north"}']
        ),
        "olga's override at north's bridge",
        10,
    )
    # fay, south's author, after olga: once hers is in at south, olga's would have been too
    login("fay").publish("campusctl/south/request/reload", '{"user":"fay"}')
    wait_for_blocking(
        lambda: south.received("campusctl/south/request/reload") == [b'{"user":"fay"}'],
        "fay's reload at south's bridge",
        10,
    )
    assert [t for t, _ in south.messages] == ["campusctl/south/request/reload"]
    assert requests_passed(monitor) == ["olga: north/override", "fay: south/reload"]


@pytest.mark.mqtt
def test_an_operator_of_north_reads_nothing_of_south(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    olga = login("olga")
    olga.subscribe("campusctl/#")
    south = login("south-bridge")
    north = login("north-bridge")
    south.publish("campusctl/south/room/main/r101", '{"school":"south"}')
    south.publish("campusctl/south/response/override", '{"status":"ok"}')
    north.publish("campusctl/north/room/main/r101", '{"school":"north"}')
    wait_for_blocking(
        lambda: olga.received("campusctl/north/room/main/r101") == [b'{"school":"north"}'],
        "north's room at olga",
        10,
    )
    assert monitor.saw("campusctl/south/room/main/r101", '{"school":"south"}')
    assert not [t for t, _ in olga.messages if not t.startswith("campusctl/north/")]
    wall = login("wall")
    wall.subscribe("campusctl/#")
    south.publish("campusctl/south/room/main/r102", '{"school":"south"}')
    wait_for_blocking(
        lambda: wall.received("campusctl/south/room/main/r102") == [b'{"school":"south"}'],
        "south's room at the read-only wall display",
        10,
    )


@pytest.mark.mqtt
def test_each_account_sends_only_the_requests_of_its_role_there(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    sent = {
        "olga": ["north/acknowledge", "north/reload", "south/explain"],
        "vic": ["north/override", "south/acknowledge", "north/explain", "south/trends"],
        "fay": ["south/disable_rule", "north/disable_rule", "north/override", "north/events"],
        "wall": ["north/explain", "south/override"],
        "north-bridge": ["north/override", "north/reload"],
    }
    for user, requests in sent.items():
        account = login(user)
        for request in requests:
            site, name = request.split("/")
            account.publish(f"campusctl/{site}/request/{name}", json.dumps({"user": user}))
    assert requests_passed(monitor) == [
        "olga: north/acknowledge",
        "vic: north/explain",
        "vic: south/trends",
        "fay: south/disable_rule",
        "fay: north/events",
    ]


@pytest.mark.mqtt
def test_a_bridge_publishes_its_school_s_state_and_link_state_only(
    monitor: Monitor, login: Callable[[str], Account]
) -> None:
    north = login("north-bridge")
    for topic in ("campusctl/south/room/main/r101", "campusctl/south/bridge", "campusctl/x"):
        north.publish(topic, "from-north")
    north.publish("campusctl/north/bridge", "1")
    north.publish("campusctl/north/status", "online")
    assert monitor.saw("campusctl/north/status", "online")
    assert monitor.received("campusctl/north/bridge") == [b"1"]
    assert all(payload != b"from-north" for _, payload in monitor.messages)
