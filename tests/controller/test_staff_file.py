"""The staff file's two forms (one role per person, or a list of roles in different sites), its
mistakes with their places, and the refusals in words, without a broker or a controller."""

from __future__ import annotations

from pathlib import Path

import pytest

from campus.problems import ConfigError
from controller.roles import Grant, Role, Staff, load_staff_file


def staff_of(tmp_path: Path, text: str) -> Staff:
    path = tmp_path / "staff.yaml"
    path.write_text(text)
    return load_staff_file(path)


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "staff.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_staff_file(path)
    return [str(p).removeprefix(f"{path}:") for p in caught.value.problems]


def test_one_role_per_person_reads_as_before(tmp_path: Path) -> None:
    staff = staff_of(
        tmp_path,
        "alice: {role: operator, sites: [north, east, north]}\n"
        "bob: {role: viewer, sites: all}\n"
        "carol: {role: author, sites: south}\n",
    )
    assert staff.grants == {
        "alice": (Grant(Role.OPERATOR, ("north", "east")),),
        "bob": (Grant(Role.VIEWER, None),),
        "carol": (Grant(Role.AUTHOR, ("south",)),),
    }
    assert staff.path == tmp_path / "staff.yaml"


def test_a_list_gives_a_role_per_place_and_the_highest_counts(tmp_path: Path) -> None:
    staff = staff_of(
        tmp_path,
        "erin:\n"
        "  - {role: author, sites: [north]}\n"
        "  - {role: viewer, sites: all}\n"
        "fred:\n"
        "  - {role: viewer, sites: [north, south]}\n"
        "  - {role: operator, sites: [south]}\n",
    )
    assert staff.grants["erin"] == (Grant(Role.AUTHOR, ("north",)), Grant(Role.VIEWER, None))
    roles = {
        (user, site): staff.role(user, site)
        for user in ("erin", "fred", "nobody")
        for site in ("north", "south", "east")
    }
    assert roles == {
        ("erin", "north"): Role.AUTHOR,
        ("erin", "south"): Role.VIEWER,
        ("erin", "east"): Role.VIEWER,
        ("fred", "north"): Role.VIEWER,
        ("fred", "south"): Role.OPERATOR,  # named twice: the higher role
        ("fred", "east"): None,
        ("nobody", "north"): None,
        ("nobody", "south"): None,
        ("nobody", "east"): None,
    }
    assert staff.refusal("erin", "north", "reload the rules", Role.AUTHOR) is None
    assert staff.refusal("fred", "south", "override", Role.OPERATOR) is None
    assert staff.anyone_may_change("south")
    assert not staff.anyone_may_change("east")


def test_refusals_name_every_role_of_a_person_with_several(tmp_path: Path) -> None:
    staff = staff_of(
        tmp_path,
        "erin:\n"
        "  - {role: author, sites: [north]}\n"
        "  - {role: viewer, sites: all}\n"
        "fred:\n"
        "  - {role: author, sites: [north]}\n"
        "  - {role: viewer, sites: [east, west]}\n"
        "gina:\n"
        "  - {role: author, sites: [north]}\n"
        "  - {role: operator, sites: [east]}\n"
        "  - {role: viewer, sites: [south, west]}\n",
    )
    assert staff.refusal("erin", "south", "override", Role.OPERATOR) == (
        "erin is a viewer of every site (and an author of north) and may not override: that "
        "takes an operator or an author of south"
    )
    assert staff.refusal("fred", "south", "override", Role.OPERATOR) == (
        "fred is an author of north and a viewer of east and west, not of south, and may not "
        "override here"
    )
    assert staff.refusal("gina", "east", "reload the rules", Role.AUTHOR) == (
        "gina is an operator of east (and an author of north and a viewer of south and west) "
        "and may not reload the rules: that takes an author of east"
    )
    assert staff.refusal("gina", "middle", "override", Role.OPERATOR) == (
        "gina is an author of north, an operator of east and a viewer of south and west, not of "
        "middle, and may not override here"
    )


def test_refusals_of_a_person_with_one_role_read_as_before() -> None:
    staff = Staff(
        {
            "alice": (Grant(Role.OPERATOR, ("north",)),),
            "carol": (Grant(Role.VIEWER, ("south", "east")),),
        },
        "staff file",
    )
    assert staff.refusal("alice", "south", "override", Role.OPERATOR) == (
        "alice is an operator of north, not of south, and may not override here"
    )
    assert staff.refusal(" carol ", "south", "override", Role.OPERATOR) == (
        "carol is a viewer of south and east and may not override: that takes an operator or "
        "an author of south"
    )
    assert staff.refusal("eve", "south", "acknowledge alarms", Role.OPERATOR) == (
        "eve has no role in this controller's staff file and may not acknowledge alarms"
    )


def test_mistakes_in_lists_of_roles_are_each_given_with_their_place(tmp_path: Path) -> None:
    assert problems_of(
        tmp_path,
        "alice: []\n"
        "bob:\n"
        "  - {role: author, sites: [north]}\n"
        "  - {role: viewr, sites: all}\n"
        "carol:\n"
        "  - {role: operator}\n"
        "  - [viewer, north]\n"
        "  - {role: viewer, sites: [North]}\n"
        "dave:\n"
        "erin:\n"
        "  - {role: author, sites: []}\n"
        "  - {role: author, sites: [south], site: north}\n"
        "erin: {role: viewer, sites: all}\n",
    ) == [
        "1:8: alice has an empty list of roles: give one or more {role: ..., sites: ...}, or "
        "remove the user",
        "4:12: bob[1].role must be one of viewer, operator, author, got 'viewr' "
        "(did you mean 'viewer'?)",
        "6:5: carol[0] needs the key 'sites'",
        "7:5: carol[1] must be a mapping, not a list",
        "8:27: carol[2].sites: 'North' is not a site id (lower-case letters, digits and -, as "
        "site.id in campus.yaml)",
        "9:1: dave has no role: give {role: ..., sites: ...}, or a list of them",
        "11:27: erin[0].sites is empty: name the sites, or write all",
        "12:36: unknown key 'site' in erin[1] (did you mean 'sites'?)",
        "13:1: duplicate key 'erin' (first at line 10)",
    ]


def test_a_staff_file_that_is_not_a_mapping_says_what_it_must_be(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "- alice\n- bob\n") == [
        "1:1: the staff file must map user names to their roles, like alice: "
        "{role: operator, sites: [north]}"
    ]
    assert problems_of(tmp_path, "alice: {role: operator, sites: [north]\n")[0].startswith(
        "2:1: YAML syntax: "
    )


def test_replace_takes_the_new_members_in_place_and_says_what_changed(tmp_path: Path) -> None:
    staff = staff_of(
        tmp_path,
        "alice: {role: operator, sites: [north]}\n"
        "bob: {role: viewer, sites: all}\n"
        "eve: {role: viewer, sites: [south]}\n",
    )
    new = Staff(
        {
            "alice": (Grant(Role.AUTHOR, ("north",)), Grant(Role.VIEWER, None)),
            "bob": (Grant(Role.VIEWER, None),),
            "carol": (Grant(Role.VIEWER, ("south",)),),
        },
        "staff file",
    )
    holder = staff  # what the control plane keeps
    assert staff.replace(new) == [
        "~ staff alice: an author of north and a viewer of every site (was an operator of north)",
        "+ staff carol: a viewer of south",
        "- staff eve",
    ]
    assert holder.role("alice", "north") is Role.AUTHOR
    assert holder.role("eve", "south") is None
    assert staff.replace(new) == []
