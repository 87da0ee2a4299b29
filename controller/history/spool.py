"""The durable spool: points waiting for InfluxDB, oldest first, in one SQLite file.

While InfluxDB is down (or answers 5xx), every point goes here and nowhere else, so the order
in which points reach InfluxDB is the order in which they were made, across outages and
restarts. SQLite gives atomic appends and removals and survives a crash mid-write; each append
is one transaction, synced to disk before it returns.

The cap counts line-protocol bytes (the file is somewhat larger). Past it the oldest points are
dropped, with a warning saying how many and from when: losing the oldest history is better
than the controller filling its disk.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from campus.problems import CampusError

log = logging.getLogger("campusctl.history")

FORMAT = 1
"""The file's layout (``PRAGMA user_version``): line protocol with microsecond times."""
WARN_EVERY = 60.0
"""Wall-clock seconds between two warnings about dropped points."""


@dataclass
class Dropped:
    """Points dropped past the cap since the last warning."""

    count: int = 0
    oldest: bytes = b""
    newest: bytes = b""


class Spool:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.dropped_total = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, FORMAT):
                raise CampusError(
                    f"the history spool {path} has format {version}, this campusctl reads "
                    f"{FORMAT}: send its points with the campusctl that wrote it, or move it away"
                )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, line BLOB NOT NULL)"
            )
            self._db.execute(f"PRAGMA user_version={FORMAT}")
            count, size = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(line)), 0) FROM points"
            ).fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise CampusError(
                f"cannot open the history spool {path}: {exc}; give the controller a writable "
                "state folder or choose another file with --influx-spool"
            ) from exc
        self.count: int = count
        self.bytes: int = size
        self._dropped = Dropped()
        self._warned_at = 0.0
        self._nearly_full = False

    def append(self, lines: Sequence[bytes]) -> None:
        """Add points after all others; drop the oldest if the cap is passed."""
        if not lines:
            return
        with self._transaction():
            self._db.executemany("INSERT INTO points (line) VALUES (?)", ((x,) for x in lines))
        self.count += len(lines)
        self.bytes += sum(len(x) for x in lines)
        if self.bytes > self.max_bytes:
            self._trim()
        self._warn()

    def head(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest `limit` points with their ids (for `remove`)."""
        rows = self._db.execute("SELECT id, line FROM points ORDER BY id LIMIT ?", (limit,))
        return [(row_id, bytes(line)) for row_id, line in rows]

    def remove(self, rows: Sequence[tuple[int, bytes]]) -> None:
        """Forget the oldest points, given as `head` returned them (or a prefix of that)."""
        if not rows:
            return
        with self._transaction():
            self._db.execute("DELETE FROM points WHERE id <= ?", (rows[-1][0],))
        self.count -= len(rows)
        self.bytes -= sum(len(line) for _, line in rows)
        if self.count == 0:
            self.count = self.bytes = 0
            self._nearly_full = False

    def close(self) -> None:
        self._warn(force=True)
        self._db.close()

    def _trim(self) -> None:
        excess = self.bytes - self.max_bytes
        freed, last_id, count = 0, 0, 0
        oldest = newest = b""
        cursor = self._db.execute("SELECT id, line FROM points ORDER BY id")
        for row_id, line in cursor:
            if not oldest:
                oldest = bytes(line)
            freed += len(line)
            last_id, count, newest = row_id, count + 1, bytes(line)
            if freed >= excess:
                break
        cursor.close()
        with self._transaction():
            self._db.execute("DELETE FROM points WHERE id <= ?", (last_id,))
        self.count -= count
        self.bytes -= freed
        self.dropped_total += count
        dropped = self._dropped
        dropped.count += count
        dropped.oldest = dropped.oldest or oldest
        dropped.newest = newest

    def _warn(self, force: bool = False) -> None:
        if not self._nearly_full and self.bytes > 0.8 * self.max_bytes:
            self._nearly_full = True
            log.warning(
                "the history spool %s holds %d points (%.0f%% of its %s cap): InfluxDB has "
                "not taken points for a while; past the cap the oldest points are dropped",
                self.path,
                self.count,
                100 * self.bytes / self.max_bytes,
                _size(self.max_bytes),
            )
        dropped = self._dropped
        now = time.monotonic()
        if dropped.count and (force or now - self._warned_at >= WARN_EVERY):
            log.warning(
                "the history spool %s is full (%s cap): dropped the %d oldest points, "
                "from %s to %s; they are lost. Bring InfluxDB back, or raise "
                "--influx-spool-max-mb",
                self.path,
                _size(self.max_bytes),
                dropped.count,
                _when(dropped.oldest),
                _when(dropped.newest),
            )
            self._dropped = Dropped()
            self._warned_at = now

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _when(line: bytes) -> str:
    """The time of a line-protocol point, as UTC text (for the warning)."""
    stamp = line.rsplit(b" ", 1)[-1]
    try:
        seconds = int(stamp) / 1_000_000
    except ValueError:
        return "an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n} bytes"
