"""One typed event bus inside the controller.

Everything the controller observes or decides is emitted here (readings, commands, and the
events later features add); extensions such as the historian or the control plane subscribe
to the event types they need. What an engine pass decides reaches the bus after its commands
are written to the devices: its transitions, alarm and override changes first, then its
commands (`Controller.decide`). A failing listener is logged and isolated, so one bug cannot stop
dispatch (the way Zigbee2MQTT's event bus works).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("campusctl.bus")

E = TypeVar("E")


class Bus:
    def __init__(self) -> None:
        self._listeners: dict[type, list[Callable[[Any], None]]] = {}

    def subscribe(self, event_type: type[E], listener: Callable[[E], None]) -> Callable[[], None]:
        """Call `listener` with every event of exactly `event_type`; returns the call that
        ends it (an extension keeps them and calls each on stop)."""
        listeners = self._listeners.setdefault(event_type, [])
        listeners.append(listener)

        def unsubscribe() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return unsubscribe

    def wants(self, event_type: type) -> bool:
        """Whether anyone listens (lets the hot path skip building events nobody reads)."""
        return bool(self._listeners.get(event_type))

    def emit(self, event: object) -> None:
        for listener in self._listeners.get(type(event), ()):
            try:
                listener(event)
            except Exception:
                log.exception("listener %r failed on %s", listener, type(event).__name__)
