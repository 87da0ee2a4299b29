"""The app's own messages: what arrives from the broker (posted from paho's thread), and the
app's "the picture changed" notice to the visible screen. Attributes down, messages up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from campus.wire import Kind


@dataclass
class ControlPlaneMessage(Message):
    """One control-plane message (JSON parsed; the status topic as text)."""

    topic: str
    payload: Any


@dataclass
class DistrictMessage(Message):
    """One message of the district view's topics (tui/district.py), as it came."""

    topic: str
    raw: bytes


@dataclass
class ConnectionChanged(Message):
    connected: bool
    text: str


@dataclass
class StateChanged(Message):
    """Parts of the site's picture changed since the last notice (at most a few a second)."""

    kinds: frozenset[Kind]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateChanged) and self.kinds <= message.kinds


@dataclass
class OpenRoom(Message):
    """Show a room (from the overview, an alarm, an event)."""

    room: str
