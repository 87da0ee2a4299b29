"""The control plane's topics as the TUI reads them (docs/mqtt.md is the contract; the
controller's side is controller/controlplane_schema.py, which the TUI never imports)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

PREFIX = "campusctl"


class Kind(Enum):
    STATUS = "status"
    CONTROLLER = "controller"
    CAMPUS = "campus"
    ROOM = "room"
    ALARMS = "alarms"
    RULES = "rules"
    EVENTS = "events"
    RESPONSE = "response"
    REQUEST = "request"


@dataclass(frozen=True, slots=True)
class Topic:
    site: str
    kind: Kind
    rest: str
    """What follows the kind: ``main/r101`` for a room, the request name for a response."""


def parse_topic(topic: str) -> Topic | None:
    """``campusctl/<site>/<kind>[/<rest>]``, or None for anything else."""
    parts = topic.split("/", 3)
    if len(parts) < 3 or parts[0] != PREFIX:
        return None
    try:
        kind = Kind(parts[2])
    except ValueError:
        return None
    return Topic(parts[1], kind, parts[3] if len(parts) > 3 else "")


def site_filter(site: str) -> str:
    return f"{PREFIX}/{site}/#"


SITES_FILTER = f"{PREFIX}/+/controller"
"""Every controller's heartbeat: how the TUI finds the sites on a broker."""


def request_topic(site: str, name: str) -> str:
    return f"{PREFIX}/{site}/request/{name}"
