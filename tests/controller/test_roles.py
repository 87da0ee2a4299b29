"""Roles per school: the staff file docs/security.md shows, read with its mistakes placed, and a
running controller of site south on a real broker refusing what a user's role does not allow
there, in words that name the user, the role and the site."""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

import pytest

from campus.problems import CampusError, ConfigError
from controller.roles import Grant, Role, Staff, load_staff_file
from controller.service import add_service_arguments, service_options
from tests.controlplane.harness import ROOT, PlaneClient, running_campus, unique_site
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

SECURITY_DOC = ROOT / "docs" / "security.md"
LIGHT = "main.r101.lights"
RULE = "lights-on-when-occupied-and-dark"


def documented_staff_file(folder: Path) -> Path:
    """The staff file of docs/security.md, written to `folder`."""
    blocks = re.findall(r"```yaml\n(.*?)```", SECURITY_DOC.read_text(), re.DOTALL)
    found = [b for b in blocks if b.startswith("# /etc/campusctl/staff.yaml")]
    assert found, f"{SECURITY_DOC} shows no staff file"
    path = folder / "staff.yaml"
    path.write_text(found[0])
    return path


def test_the_documented_staff_file_gives_each_their_role_and_sites(tmp_path: Path) -> None:
    staff = load_staff_file(documented_staff_file(tmp_path))
    assert staff.grants == {
        "alice": (Grant(Role.OPERATOR, ("north",)),),
        "bob": (Grant(Role.OPERATOR, None),),
        "carol": (Grant(Role.VIEWER, ("south",)),),
        "dave": (Grant(Role.AUTHOR, ("south",)),),
        "erin": (Grant(Role.AUTHOR, ("north",)), Grant(Role.VIEWER, None)),
    }
    assert staff.anyone_may_change("south")
    assert (staff.role("erin", "north"), staff.role("erin", "south")) == (
        Role.AUTHOR,
        Role.VIEWER,
    )
    only_north = Staff(
        {"alice": (Grant(Role.AUTHOR, ("north",)),), "carol": (Grant(Role.VIEWER, None),)},
        "staff file",
    )
    assert not only_north.anyone_may_change("south")


def test_mistakes_in_a_staff_file_are_each_given_with_their_place(tmp_path: Path) -> None:
    path = tmp_path / "staff.yaml"
    path.write_text(
        "alice: {role: operater, sites: [north]}\n"
        "bob: {role: operator}\n"
        "carol: {role: viewer, sites: South}\n"
        "dave: {role: author, sites: []}\n"
        "erin: {role: author, sites: [all, north]}\n"
        "frank: {role: author, site: north}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_staff_file(path)
    assert [str(p).removeprefix(f"{path}:") for p in caught.value.problems] == [
        "1:15: alice.role must be one of viewer, operator, author, got 'operater' "
        "(did you mean 'operator'?)",
        "2:6: bob needs the key 'sites'",
        "3:30: carol.sites: 'South' is not a site id (lower-case letters, digits and -, as "
        "site.id in campus.yaml)",
        "4:29: dave.sites is empty: name the sites, or write all",
        "5:29: erin.sites: write 'sites: all' on its own",
        "6:8: frank needs the key 'sites'",
        "6:23: unknown key 'site' in frank (did you mean 'sites'?)",
    ]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_service_arguments(parser, "broker")
    return parser.parse_args(argv)


def test_staff_options(tmp_path: Path) -> None:
    staff_file = documented_staff_file(tmp_path)
    assert service_options(parse()).staff is None
    from_file = service_options(parse("--staff-file", str(staff_file))).staff
    assert from_file is not None
    assert set(from_file.grants) == {"alice", "bob", "carol", "dave", "erin"}
    authors = service_options(parse("--staff", "alice,bob", "--staff", "carol")).staff
    assert authors is not None
    assert authors.grants == {u: (Grant(Role.AUTHOR, None),) for u in ("alice", "bob", "carol")}
    assert authors.refusal("eve", "south", "reload the rules", Role.AUTHOR) == (
        "eve has no role in this controller's --staff list and may not reload the rules"
    )
    with pytest.raises(CampusError, match="--staff and --staff-file: give one"):
        service_options(parse("--staff", "alice", "--staff-file", str(staff_file)))


@pytest.mark.mqtt
@run_async
async def test_south_s_controller_refuses_what_a_role_does_not_allow_in_south(
    fresh_broker: Broker, tmp_path: Path
) -> None:
    """The documented file on south's controller: alice operates north only, bob every site,
    carol views south, dave is south's author, erin north's author who views south."""
    staff = load_staff_file(documented_staff_file(tmp_path))
    client = PlaneClient(fresh_broker, "south")
    try:
        async with running_campus(fresh_broker, tmp_path, site="south", staff=staff) as campus:
            await wait_for(lambda: campus.controller.engine.started, "the end of the settle")

            async def ask(name: str, user: str, **body: object) -> dict[str, object]:
                answer: dict[str, object] = await client.request(name, {**body, "user": user})
                return answer

            override = {"actuator": LIGHT, "value": "on", "duration": "15m"}
            answer = await ask("override", "alice", **override)
            assert answer["status"] == "error"
            assert answer["error"] == (
                "alice is an operator of north, not of south, and may not override here"
            )
            answer = await ask("override", "carol", **override)
            assert answer["error"] == (
                "carol is a viewer of south and may not override: that takes an operator or an "
                "author of south"
            )
            answer = await ask("override", "eve", **override)
            assert answer["error"] == (
                "eve has no role in this controller's staff file and may not override"
            )
            assert not campus.controller.engine.has_override(LIGHT)

            answer = await ask("override", "bob", **override)
            assert answer["status"] == "ok", answer
            assert campus.controller.engine.has_override(LIGHT)

            answer = await ask("disable_rule", "bob", rule=RULE)
            assert answer["error"] == (
                "bob is an operator of every site and may not disable rules: that takes an "
                "author of south"
            )
            answer = await ask("override", "erin", **override)
            assert answer["error"] == (
                "erin is a viewer of every site (and an author of north) and may not override: "
                "that takes an operator or an author of south"
            )
            answer = await ask("disable_rule", "dave", rule=RULE)
            assert answer["status"] == "ok", answer
            assert answer["data"] == {"rule": RULE, "enabled": False}

            explained = await client.request("explain", {"target": LIGHT})
            assert explained["status"] == "ok", explained
    finally:
        client.close()


@pytest.mark.mqtt
@run_async
async def test_a_staff_file_that_names_nobody_for_the_site_is_warned_of(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nobody but a viewer in east: a warning at start."""
    caplog.set_level(logging.WARNING, logger="campusctl.controlplane")
    path = tmp_path / "staff.yaml"
    path.write_text("alice: {role: operator, sites: [north]}\ncarol: {role: viewer, sites: all}\n")
    staff = load_staff_file(path)
    site = unique_site("east")
    async with running_campus(broker, tmp_path, site=site, staff=staff):
        pass
    assert (
        f"the staff file names no operator or author for site {site}: every request that "
        "changes something will be refused"
    ) in caplog.text
