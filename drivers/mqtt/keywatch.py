"""Notice when a device stops sending a key a binding relies on.

A Zigbee2MQTT firmware or converter update can rename a key (``illuminance_lux`` became
``illuminance`` in Z2M 2.0): the device still talks, so it never looks offline, yet a point
silently stops updating. Single absent keys are normal (Z2M sends partial updates), so the watch
warns only after `threshold` messages in a row from one topic lacked the key, once, and says so
again when the key comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger("campusctl.mqtt")


class KeyWatch:
    """Per topic and key: how many messages in a row lacked the key."""

    def __init__(self, threshold: int) -> None:
        if threshold < 1:
            raise ValueError(f"key watch threshold must be at least 1, got {threshold}")
        self.threshold = threshold
        self.warnings = 0
        self._missing: dict[str, dict[str, int]] = {}

    def tracking(self, topic: str) -> bool:
        """Whether some key of `topic` is currently missing (so present keys must be reported)."""
        return topic in self._missing

    def observe(self, topic: str, present: Iterable[str], missing: Iterable[str]) -> None:
        """Record one parsed message of `topic`: which relied-on keys it had and which it lacked."""
        counts = self._missing.get(topic)
        if counts is not None:
            for key in present:
                if counts.pop(key, 0) >= self.threshold:
                    log.info("%s: key %r is back", topic, key)
        for key in missing:
            if counts is None:
                counts = self._missing[topic] = {}
            seen = counts.get(key, 0) + 1
            counts[key] = seen
            if seen == self.threshold:
                self.warnings += 1
                log.warning(
                    "%s: the last %d messages had no %r; its points get no news "
                    "(renamed key or changed converter? check the binding)",
                    topic,
                    seen,
                    key,
                )
        if counts is not None and not counts:
            del self._missing[topic]
