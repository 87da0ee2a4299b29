"""A district of schools: each school's Mosquitto bridges its control plane to one district
Mosquitto (Mosquitto's own bridge, not a relay of ours).

Each school keeps its broker and controller and works alone when the district is unreachable.
Its broker forwards (`out`) what the district needs to see (status, controller, campus, rooms,
alarms, rules, events, answers, KPIs) and takes (`in`) the district staff's requests for its
own site only, so requests and answers travel back over the same link to the owning school.
`bridge_config` writes the snippet for the school's mosquitto.conf; docs/district.md explains
the topology, the queues and what happens during an outage. `district_acl` writes the district
broker's ACL from the same lists (what each bridge carries) and from the staff file (what each
person may reach), so the broker's lock and the controllers' check follow one file
(docs/security.md).

Requests come in at QoS 0 on purpose: a request is interactive (the sender waits 10 s for an
answer), and one queued during an outage would be carried out hours later, when nobody wants
that override any more. What goes out goes at QoS 1 on a persistent session; when the link
(re)connects, Mosquitto sends the school's retained messages over it, so the district's picture
is the school's current one as soon as the link is back (tests/district). The link's state is
the bridge's notification topic (`wire.Topics.bridge`).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from campus import wire
from campus.brokerurl import BrokerAddress, parse_broker_url
from campus.config import SITE_ID
from campus.problems import CampusError, ConfigError, Problem
from campus.secrets import SecretError, broker_credentials
from controller.controlplane_requests import REQUESTS
from controller.roles import Grant, Role, Staff, in_words, load_staff_file

OUT = ("status/#", "controller/#", "campus", "room/#", "alarms/#", "rules/#", "events",
       "response/#", "kpi/#")  # fmt: skip
"""What a school shares with the district (below ``campusctl/<site>/``)."""
IN = ("request/#",)
"""What the district may send a school."""
BRIDGE_ACCOUNT = "{site}-bridge"
"""A school's account on the district broker, in the ACL `district_acl` writes (the user of the
district URL given to ``campusctl district bridge-config --site SITE``)."""


def bridge_config(site: str, district: BrokerAddress, client_id: str = "") -> str:
    """The ``connection`` block for a school's mosquitto.conf: its control plane bridged to
    `district` (TLS and credentials as the district URL gives them)."""
    if not site or "/" in site or "+" in site or "#" in site:
        raise CampusError(f"--site {site!r}: give the school's site id from its campus.yaml")
    name = client_id or f"campusctl-bridge-{site}"
    topics = wire.Topics(site)
    lines = [
        f"# campusctl: site {site} bridged to the district broker {district}",
        f"connection {name}",
        f"address {district.host}:{district.port}",
        "bridge_protocol_version mqttv311",
        f"remote_clientid {name}",
        f"local_clientid {name}-local",
        "cleansession false",
        "start_type automatic",
        "restart_timeout 5 60",
        "keepalive_interval 30",
        "notifications true",
        f"notification_topic {topics.bridge}",
        "try_private true",
    ]
    if district.username:
        lines.append(f"remote_username {district.username}")
        try:
            password = broker_credentials(district).password
        except SecretError as exc:
            raise CampusError(f"district broker {district}: {exc}") from None
        if password:
            lines.append(f"remote_password {password}")
    if district.tls:
        lines.append(f"bridge_cafile {district.ca_file or '/etc/ssl/certs/ca-certificates.crt'}")
        if district.cert_file:
            lines.append(f"bridge_certfile {district.cert_file}")
            lines.append(f"bridge_keyfile {district.key_file or district.cert_file}")
        lines.append("bridge_insecure false")
    lines += [f"topic {topics.base}/{t} out 1" for t in OUT]
    lines += [f"topic {topics.base}/{t} in 0" for t in IN]
    return "\n".join(lines) + "\n"


ACL_HEADER = """\
# campusctl district ACL for Mosquitto 2.x (the district broker's acl_file): each school's
# accounts reach only campusctl/<its site>/. Nothing is allowed unless a line allows it.
# Written by `campusctl district acl` from the staff file: write it again after a change to the
# staff file or to the list of schools, and send Mosquitto a SIGHUP to read it.
"""


def district_acl(staff: Staff, sites: Sequence[str], read_only: Sequence[str] = ()) -> str:
    """The district broker's Mosquitto ACL: a block per school's bridge account (what
    `bridge_config` carries: its `OUT` topics and link state written, its `IN` requests read),
    a block per member of `staff` following their grants, and a block per `read_only` account.

    A person reads every site they hold a role in and may send the requests their role there
    allows (a request names its least role, controller.controlplane_requests.REQUESTS): a
    viewer the reading ones, an operator also overrides and acknowledgements, an author every
    request (``request/+``, so a request type added later needs no new line); ``sites: all``
    is ``+``. The controller refuses the same things on its side (controller.roles), so each
    lock holds on its own.

    Raises CampusError for a site list that cannot be one, a name that cannot be an account in
    the file, or one account named twice; ConfigError (FILE:LINE:COL) for a staff file that
    names a site the list does not have, which is a typo more often than a school to come.
    """
    _check_sites(sites)
    bridges = {BRIDGE_ACCOUNT.format(site=site): site for site in sites}
    _check_accounts(staff, bridges, read_only)
    blocks = [ACL_HEADER]
    for account, site in bridges.items():
        topics = wire.Topics(site)
        blocks.append(
            "\n".join(
                [
                    f"# School {site}'s bridge: publishes {site}'s control plane and link state, "
                    f"takes {site}'s requests.",
                    f"user {account}",
                    *(f"topic write {topics.base}/{t}" for t in OUT),
                    f"topic write {topics.bridge}",
                    *(f"topic read {topics.base}/{t}" for t in IN),
                ]
            )
            + "\n"
        )
    for user, grants in staff.grants.items():
        blocks.append(_staff_block(user, grants, set(sites)))
    if read_only:
        lines = ["# Read-only for the whole district: dashboards, wall displays, auditors."]
        for user in read_only:
            lines += [f"user {user}", f"topic read {wire.PREFIX}/#"]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _staff_block(user: str, grants: Sequence[Grant], sites: set[str]) -> str:
    """One person's lines: reads, then the requests of the highest role per site (``+``: all)."""
    roles: dict[str, Role] = {}
    """Site (or ``+``) -> the highest role named for it, in the file's order."""
    for grant in grants:
        for site in ("+",) if grant.sites is None else grant.sites:
            roles[site] = max(roles.get(site, grant.role), grant.role)
    everywhere = roles.get("+")
    if everywhere is not None:  # a site's lower or equal role adds nothing to all's
        roles = {s: r for s, r in roles.items() if s == "+" or r > everywhere}
    lines = [f"# {user}: {in_words(grants)}.", f"user {user}"]
    if everywhere is not None:
        lines.append(f"topic read {wire.PREFIX}/#")
    else:
        lines += [f"topic read {wire.PREFIX}/{site}/#" for site in roles]
    for site, role in roles.items():
        lines += [f"topic write {wire.PREFIX}/{site}/request/{name}" for name in _requests(role)]
    return "\n".join(lines) + "\n"


def _requests(role: Role) -> list[str]:
    """The request topics' last level that `role` may publish: ``+`` for an author (every
    request), else the names of the requests it may send, the lowest role's first."""
    if role >= max(kind.role for kind in REQUESTS.values()):
        return ["+"]
    allowed = [(kind.role, name) for name, kind in REQUESTS.items() if kind.role <= role]
    return [name for _, name in sorted(allowed, key=lambda pair: pair[0])]


ACCOUNT = re.compile(r"[^\s\x00-\x1f\x7f]+")
"""What a ``user`` line of the ACL file can name: no white space or control character (the
line ends at a newline, and Mosquitto trims the name)."""


def _check_sites(sites: Sequence[str]) -> None:
    if not sites:
        raise CampusError("--sites: name the district's schools (their site ids), e.g. north,south")
    for site in sites:
        if not SITE_ID.fullmatch(site):
            raise CampusError(
                f"--sites: {site!r} is not a site id (lower-case letters, digits and -, as "
                "site.id in campus.yaml)"
            )
    twice = sorted({site for site in sites if sites.count(site) > 1})
    if twice:
        raise CampusError(f"--sites names {', '.join(twice)} more than once")


def _check_accounts(staff: Staff, bridges: dict[str, str], read_only: Sequence[str]) -> None:
    """Every account one block only, each a name Mosquitto's ACL file can hold, and every site
    a grant names one of the district's."""
    for user in read_only:
        if not ACCOUNT.fullmatch(user):
            raise CampusError(f"--read-only: {user!r} cannot be an account name in the ACL")
        if user in staff.grants or user in bridges or read_only.count(user) > 1:
            raise CampusError(
                f"--read-only {user}: that account has another block in the ACL (staff, a "
                "school's bridge, or --read-only twice); give each account one job"
            )
    problems: list[str | Problem] = []
    sites = list(bridges.values())
    for user, grants in staff.grants.items():
        if not ACCOUNT.fullmatch(user):
            problems.append(
                f"staff member {user!r}: a user name with white space or control characters "
                "cannot be named in the ACL"
            )
        if user in bridges:
            problems.append(
                f"staff member {user}: that is school {bridges[user]}'s bridge account; give the "
                "person an account of their own"
            )
        for grant in grants:
            for site in grant.sites or ():
                if site in sites:
                    continue
                message = (
                    f"{user}: site {site!r} is not one of the district's "
                    f"(--sites {','.join(sites)})"
                )
                problems.append(message if grant.pos is None else Problem(grant.pos, message))
    located = [p for p in problems if isinstance(p, Problem)]
    if located:
        raise ConfigError(located)
    if problems:
        raise CampusError("; ".join(str(p) for p in problems))


def add_district_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    district = commands.add_parser("district", help="a district of schools (docs/district.md)")
    actions = district.add_subparsers(required=True, metavar="ACTION")
    bridge = actions.add_parser(
        "bridge-config",
        help="print the mosquitto.conf bridge that links a school's broker to the district's",
        description="Print the `connection` block to append to the school broker's "
        "mosquitto.conf (it may hold the district password: keep that file readable by "
        "mosquitto only). docs/district.md explains the topology and the outage behaviour.",
    )
    bridge.add_argument("--site", required=True, help="the school's site id (its campus.yaml)")
    bridge.add_argument(
        "--district",
        required=True,
        help="the district broker: mqtts://user@host:8883?ca=FILE&password_file=FILE",
    )
    bridge.add_argument("--client-id", default="", help="default: campusctl-bridge-SITE")
    bridge.set_defaults(func=cmd_bridge_config)
    acl = actions.add_parser(
        "acl",
        help="print the district broker's Mosquitto ACL for the staff file and the schools",
        description="Print the acl_file for the district broker: a block per school's bridge "
        "account (SITE-bridge: what `bridge-config` carries, nothing of another school), a "
        "block per person of the staff file following their roles (viewers read their sites "
        "and send the reading requests, operators also overrides and acknowledgements, "
        "authors every request; sites: all is every school), and one per --read-only account. "
        "Write it again after each change to the staff file and send Mosquitto a SIGHUP. "
        "docs/security.md explains each line.",
        epilog="example: campusctl district acl --staff-file /etc/campusctl/staff.yaml "
        "--sites north,south --read-only display > /etc/mosquitto/campusctl-district.acl",
    )
    acl.add_argument(
        "--staff-file",
        required=True,
        type=Path,
        metavar="FILE",
        help="the district's staff file, the one every school's controller is given",
    )
    acl.add_argument(
        "--sites",
        required=True,
        action="append",
        metavar="SITE[,SITE...]",
        help="the district's schools, by site id (repeatable); every site the staff file "
        "names must be one of them",
    )
    acl.add_argument(
        "--read-only",
        action="append",
        default=[],
        metavar="USER[,USER...]",
        help="accounts that read every school and send nothing: dashboards, wall displays, "
        "auditors (repeatable)",
    )
    acl.set_defaults(func=cmd_acl)


def main(argv: list[str]) -> int:
    """`campusctl district ...` on its own (tests, scripts)."""
    parser = argparse.ArgumentParser(prog="campusctl")
    add_district_commands(parser.add_subparsers(required=True))
    args = parser.parse_args(["district", *argv])
    code: int = args.func(args)
    return code


def cmd_bridge_config(args: argparse.Namespace) -> int:
    try:
        district = parse_broker_url(args.district)
    except ValueError as exc:
        raise CampusError(str(exc)) from None
    sys.stdout.write(bridge_config(args.site, district, args.client_id))
    return 0


def cmd_acl(args: argparse.Namespace) -> int:
    staff = load_staff_file(args.staff_file)
    sites = _names(args.sites)
    sys.stdout.write(district_acl(staff, sites, _names(args.read_only)))
    return 0


def _names(args: list[str]) -> list[str]:
    """``--sites a,b --sites c`` -> ``[a, b, c]``."""
    return [name.strip() for arg in args for name in arg.split(",") if name.strip()]
