"""The controller advertises itself over mDNS so tools find it without configuration, and
`campusctl discover` lists what is advertised.

``_campusctl._tcp.local.`` with TXT records site, broker URL and control-plane topic prefix
(campus/discovery.py has the record and the browsing side). By default only on loopback: a
controller started on a laptop or in a test must not announce itself on the real network;
an operator names the interface (``--discovery-interface eth0``) where staff should find it.

Discovery is a convenience, never a reason to stop: if mDNS cannot start (port 5353 held by a
daemon without SO_REUSEPORT, say), the controller logs why and controls anyway.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from zeroconf import ServiceInfo

from campus.discovery import (
    Advertiser,
    Interfaces,
    browse,
    controller_service,
    resolve_interfaces,
)

if TYPE_CHECKING:
    from controller.runtime import Controller

log = logging.getLogger("campusctl.discovery")


class DiscoveryExtension:
    """Advertises the running controller; stopping sends mDNS goodbyes so browsers drop it."""

    name = "discovery"

    def __init__(self, broker_url: str, interfaces: Sequence[str] = ()) -> None:
        self.broker_url = broker_url
        self.interfaces: Interfaces = resolve_interfaces(interfaces)
        self.advertised = asyncio.Event()
        """Set once the advertisement is announced (after ~1.7 s of probing)."""
        self._advertiser: Advertiser | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, controller: Controller) -> None:
        site = controller.campus.site.id
        try:
            info = controller_service(site, self.broker_url, self.interfaces)
            advertiser = Advertiser(self.interfaces)
            await advertiser.__aenter__()
        except (OSError, ValueError) as exc:
            log.error("discovery is off: cannot advertise on %s: %s", self._where(), exc)
            return
        self._advertiser = advertiser
        self._task = asyncio.create_task(self._register(advertiser, info), name="discovery")

    async def _register(self, advertiser: Advertiser, info: ServiceInfo) -> None:
        try:
            await advertiser.register(info)
        except Exception as exc:
            log.error("discovery is off: advertising %s failed: %s", info.name, exc)
            return
        self.advertised.set()
        log.info("advertised as %r on %s", info.name.split("._", 1)[0], self._where())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        advertiser, self._advertiser = self._advertiser, None
        if advertiser is not None:
            await advertiser.__aexit__(None, None, None)

    def _where(self) -> str:
        if isinstance(self.interfaces, list):
            return ", ".join(self.interfaces)
        return "every interface"


def add_discover_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``campusctl discover``: list the controllers and MQTT brokers advertised nearby."""
    parser = commands.add_parser("discover", help="find controllers and MQTT brokers (mDNS)")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to listen (default 3)")
    parser.add_argument(
        "--interface",
        action="append",
        default=[],
        metavar="IFACE",
        help="listen on this interface name, IPv4 address or 'all' (repeatable; "
        "default: loopback only)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=cmd_discover)


def cmd_discover(args: argparse.Namespace) -> int:
    interfaces = resolve_interfaces(args.interface)
    found = asyncio.run(browse(args.seconds, interfaces))
    if args.json:
        print(json.dumps(dataclasses.asdict(found), indent=2))
        return 0
    if found.controllers:
        print("controllers:")
    for c in found.controllers:
        where = ", ".join(c.addresses) or c.host
        print(f"  {c.name}: site {c.site}, broker {c.broker}, topics {c.prefix}#, at {where}")
    if found.brokers:
        print("brokers:")
    for b in found.brokers:
        print(f"  {b.name}: {b.url}")
    if not found.controllers and not found.brokers:
        where = ", ".join(interfaces) if isinstance(interfaces, list) else "every interface"
        print(f"nothing answered on {where} within {args.seconds:g} s", file=sys.stderr)
    return 0
