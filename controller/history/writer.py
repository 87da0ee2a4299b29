"""The historian's background writer: batches, delivery, spooling, retries.

The controller's loop only ever calls `submit`, which appends the event to an in-memory queue;
everything that can wait on InfluxDB or the disk happens on the writer's own thread. Each cycle
(every `flush_interval`, or sooner when a batch fills) it turns the queued events into line
protocol and:

- with nothing spooled and InfluxDB answering, writes them in batches of `batch_size`;
- when InfluxDB is unreachable, slow, overloaded or answers 5xx (or 401/403/404, which a person
  must fix), appends what is left to the spool and retries with backoff; while the spool holds
  points, new points are appended behind them, so InfluxDB receives every point in the order it
  was made, once it is back;
- when a request is refused with another 4xx, splits the batch in halves until the refused
  points are alone, logs each with its line and drops it; the other points are written.

A point delivered twice (a request that timed out after the server stored it) is harmless:
InfluxDB keeps one point per series and time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controller.history.sinks import Rejected, Sink, Unavailable
from controller.history.spool import Spool

log = logging.getLogger("campusctl.history")

FIRST_RETRY = 1.0
"""Wall-clock seconds before the first retry after InfluxDB became unavailable."""
FINAL_BUDGET = 5.0
"""Wall-clock seconds the last cycle at shutdown may spend sending spooled points."""


@dataclass
class WriterStats:
    written: int = 0
    """Points InfluxDB accepted."""
    rejected: int = 0
    """Points InfluxDB refused with a 4xx (logged and dropped)."""
    spooled: int = 0
    """Points that went through the spool."""
    lost: int = 0
    """Points that could not even be spooled (disk errors)."""


class Writer:
    def __init__(
        self,
        sink: Sink,
        spool: Spool,
        encode: Callable[[list[object]], list[bytes]],
        *,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        retry_max: float = 30.0,
    ) -> None:
        self.sink = sink
        self.spool = spool
        self.encode = encode
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry_max = retry_max
        self.stats = WriterStats()
        self._queue: deque[object] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._down_since: float | None = None
        self._down_reason = ""
        self._backoff = FIRST_RETRY
        self._retry_at = 0.0

    def submit(self, event: object) -> None:
        """Queue an event (called on the controller's loop: never blocks)."""
        self._queue.append(event)
        if len(self._queue) == self.batch_size:
            self._wake.set()

    def submit_all(self, events: Sequence[object]) -> None:
        """Queue events in order (a batch of readings), as `submit` does one."""
        queue = self._queue
        before = len(queue)
        queue.extend(events)
        if before < self.batch_size <= len(queue):
            self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write or spool everything queued, then end the thread (blocks: call it off the loop)."""
        self._stopping = True
        self._wake.set()
        self._thread.join()

    @property
    def queued(self) -> int:
        """Events submitted and not yet taken by the writer's thread."""
        return len(self._queue)

    @property
    def idle(self) -> bool:
        """Nothing queued, nothing spooled, no cycle running: all submitted points are out."""
        return not self._queue and not self.spool.count and not self._busy

    @property
    def available(self) -> bool:
        """Whether the last attempt to write reached InfluxDB."""
        return self._down_since is None

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            final = self._stopping
            self._busy = True
            try:
                self._cycle(final)
            except Exception:
                log.exception("the history writer failed in a cycle; it goes on with the next")
            finally:
                self._busy = False
            if final:
                return
            if self.spool.count and time.monotonic() >= self._retry_at:
                self._wake.set()

    def _cycle(self, final: bool) -> None:
        events: list[object] = []
        while True:
            try:
                events.append(self._queue.popleft())
            except IndexError:
                break
        lines = self.encode(events)
        if lines:
            if self.spool.count or time.monotonic() < self._retry_at:
                self._to_spool(lines)
            else:
                self._to_spool(self._deliver(lines))
        budget = FINAL_BUDGET if final else self.flush_interval
        self._send_spooled(time.monotonic() + budget)

    def _send_spooled(self, deadline: float) -> None:
        while self.spool.count and time.monotonic() >= self._retry_at:
            rows = self.spool.head(self.batch_size)
            rest = self._deliver([line for _, line in rows])
            self.spool.remove(rows[: len(rows) - len(rest)])
            if rest or time.monotonic() >= deadline:
                return

    def _deliver(self, lines: Sequence[bytes]) -> list[bytes]:
        """Write `lines` in order; returns those left when InfluxDB became unavailable."""
        chunks = deque(
            lines[i : i + self.batch_size] for i in range(0, len(lines), self.batch_size)
        )
        while chunks:
            chunk = chunks.popleft()
            try:
                self.sink.write(chunk)
            except Unavailable as exc:
                self._unavailable(exc)
                return [line for part in (chunk, *chunks) for line in part]
            except Rejected as exc:
                self._answered()
                if len(chunk) > 1:
                    half = len(chunk) // 2
                    chunks.extendleft([chunk[half:], chunk[:half]])
                    continue
                self.stats.rejected += 1
                log.error(
                    "%s refused a point (%s); dropped it, the others are written: %s",
                    self.sink.description,
                    exc,
                    chunk[0].decode(errors="replace"),
                )
            else:
                self._answered()
                self.stats.written += len(chunk)
        return []

    def _to_spool(self, lines: Sequence[bytes]) -> None:
        if not lines:
            return
        try:
            self.spool.append(lines)
        except Exception:
            self.stats.lost += len(lines)
            log.exception(
                "could not spool %d points to %s: they are lost; check that disk", len(lines),
                self.spool.path,
            )  # fmt: skip
        else:
            self.stats.spooled += len(lines)

    def _unavailable(self, exc: Unavailable) -> None:
        now = time.monotonic()
        reason = str(exc)
        if self._down_since is None or reason != self._down_reason:
            if self._down_since is None:
                self._down_since = now
                self._backoff = FIRST_RETRY
            self._down_reason = reason
            level = logging.ERROR if exc.needs_a_person else logging.WARNING
            log.log(
                level,
                "%s is unavailable (%s): keeping points in the spool %s and retrying "
                "(at least every %g s)",
                self.sink.description,
                reason,
                self.spool.path,
                self.retry_max,
            )
        else:
            self._backoff = min(self._backoff * 2, self.retry_max)
        self._retry_at = now + min(self._backoff, self.retry_max)

    def _answered(self) -> None:
        if self._down_since is not None:
            log.info(
                "%s answers again after %.0f s; sending the %d spooled points in order",
                self.sink.description,
                time.monotonic() - self._down_since,
                self.spool.count,
            )
            self._down_since = None
            self._down_reason = ""
            self._backoff = FIRST_RETRY
            self._retry_at = 0.0
