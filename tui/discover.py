"""Where the controller is when `--broker` is not given: ask zeroconf (campus.discovery).

A controller advertises ``_campusctl._tcp`` with its site and broker URL; a broker may advertise
``_mqtt._tcp``. Only the interfaces named with ``--discovery-interface`` are used (loopback by
default, never every interface unasked: see campus/discovery.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from campus.discovery import browse, resolve_interfaces

BROWSE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Discovered:
    broker: str | None
    site: str | None
    """Set when exactly one controller answered (several: the TUI asks)."""
    said: str
    """One sentence for the user: what was found."""


def discover(site: str | None, interfaces: list[str]) -> Discovered:
    """Browse for a few seconds; a controller of `site` (or any) wins over a bare broker."""
    found = asyncio.run(browse(BROWSE_SECONDS, resolve_interfaces(interfaces)))
    controllers = [c for c in found.controllers if site is None or c.site == site]
    if controllers:
        chosen = controllers[0]
        only = chosen.site if len({c.site for c in controllers}) == 1 else None
        return Discovered(chosen.broker, only, f"found controller {chosen.site} at {chosen.broker}")
    if found.brokers:
        url = found.brokers[0].url
        return Discovered(url, None, f"found an MQTT broker at {url} (no controller advertised)")
    return Discovered(None, None, "zeroconf found no controller or broker")
