"""Log a recurring problem once per interval per subject, with a count of what was held back.

One broken sensor publishing every second must not bury the log, but its first bad payload must
be there in full, with topic and payload, so it can be found.
"""

from __future__ import annotations

import logging
import time


class LogThrottle:
    """At most one record per `interval` seconds per subject (a topic, say)."""

    def __init__(self, logger: logging.Logger, interval: float) -> None:
        self._log = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, subject: str, message: str) -> bool:
        """Log `message` unless `subject` was logged less than `interval` ago; True if logged."""
        now = time.monotonic()
        last = self._last.get(subject)
        if last is not None and now - last < self.interval:
            self._held[subject] = self._held.get(subject, 0) + 1
            return False
        self._last[subject] = now
        held = self._held.pop(subject, 0)
        if held and last is not None:
            message = f"{message} ({held} more like it in the last {now - last:.0f} s)"
        self._log.warning("%s", message)
        return True
