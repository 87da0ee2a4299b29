"""A district of schools: each school's Mosquitto bridges its control plane to one district
Mosquitto (Mosquitto's own bridge, not a relay of ours).

Each school keeps its broker and controller and works alone when the district is unreachable.
Its broker forwards (`out`) what the district needs to see (status, controller, campus, rooms,
alarms, rules, events, answers, KPIs) and takes (`in`) the district staff's requests for its
own site only, so requests and answers travel back over the same link to the owning school.
`bridge_config` writes the snippet for the school's mosquitto.conf; docs/district.md explains
the topology, the queues and what happens during an outage.

Requests come in at QoS 0 on purpose: a request is interactive (the sender waits 10 s for an
answer), and one queued during an outage would be carried out hours later, when nobody wants
that override any more. What goes out goes at QoS 1 on a persistent session; when the link
(re)connects, Mosquitto sends the school's retained messages over it, so the district's picture
is the school's current one as soon as the link is back (tests/district). The link's state is
the bridge's notification topic (`wire.Topics.bridge`).
"""

from __future__ import annotations

import argparse
import sys

from campus import wire
from campus.brokerurl import BrokerAddress, parse_broker_url
from campus.problems import CampusError
from campus.secrets import SecretError, broker_credentials

OUT = ("status/#", "controller/#", "campus", "room/#", "alarms/#", "rules/#", "events",
       "response/#", "kpi/#")  # fmt: skip
"""What a school shares with the district (below ``campusctl/<site>/``)."""
IN = ("request/#",)
"""What the district may send a school."""


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
