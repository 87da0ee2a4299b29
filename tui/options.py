"""`campusctl tui`'s options, and where the broker is when none is given."""

from __future__ import annotations

import argparse
import getpass
import os
from dataclasses import dataclass

from campus.brokerurl import BrokerAddress, parse_broker_url
from campus.secrets import SecretError, broker_credentials

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


@dataclass(frozen=True, slots=True)
class TuiOptions:
    broker: BrokerAddress
    site: str | None = None
    """None: follow the one controller found on the broker (ask when there are several)."""
    district: bool = False
    """Open on the district view: every school on the broker (docs/district.md)."""
    user: str = ""
    """Who the requests say asks: --user, else the broker user name, else the login name."""
    refresh: float = 0.25
    """Seconds between screen refreshes at most (a flood of updates is drawn at this pace)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        default=None,
        help="mqtt://[user[:password]@]host[:port] (default: found by zeroconf, "
        f"else {DEFAULT_BROKER})",
    )
    parser.add_argument("--site", default=None, help="site id (default: the one on the broker)")
    parser.add_argument(
        "--district",
        action="store_true",
        help="open on the district view: every school on the (district) broker",
    )
    parser.add_argument(
        "--user", default=None, help="your name in the audit trail (default: your login name)"
    )
    parser.add_argument(
        "--no-discovery", action="store_true", help="do not look for controllers with zeroconf"
    )
    parser.add_argument(
        "--discovery-interface",
        action="append",
        default=[],
        metavar="IFACE",
        help="where zeroconf looks: an interface, an IPv4 address or 'all' (default: loopback)",
    )


def login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "staff")


def options_from(
    args: argparse.Namespace, discovered: str | None = None, site: str | None = None
) -> TuiOptions:
    """Raises ValueError for a broker URL that cannot be used, or a password file that cannot
    be read (checked here, before the screen is taken, so the error is a plain message)."""
    url = args.broker or discovered or DEFAULT_BROKER
    try:
        broker = broker_credentials(parse_broker_url(url))
    except SecretError as exc:
        raise ValueError(str(exc)) from exc
    user = args.user or broker.username or login_name()
    return TuiOptions(broker=broker, site=args.site or site, district=args.district, user=user)
