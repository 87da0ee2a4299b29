"""Durable controller state in one SQLite file: hold timers, latched rule states, overrides,
alarms and disabled rules (what rules.durable says must survive a restart).

Writes are batched: the engine marks what changed, and `StateKeeper` writes it in one
transaction once a second (of wall time) and at once after a staff action, so a reading never
waits for a disk. A crash loses at most that second; a clean stop writes everything. WAL mode
keeps a reader (`campusctl rules explain --state FILE`) from blocking the controller.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from campus.problems import CampusError
from campus.types import Value
from controller.events import Audit
from rules.alarms import Alarm
from rules.durable import Saved, SavedInstance, SavedOverride, capture, overrides, save_instance

if TYPE_CHECKING:
    from controller.runtime import Controller
    from rules.engine import Engine

log = logging.getLogger("campusctl.state")

VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
    rule TEXT NOT NULL, room TEXT NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
    since REAL NOT NULL, active_since REAL NOT NULL, hold_until REAL,
    PRIMARY KEY (rule, room));
CREATE TABLE IF NOT EXISTS overrides (
    actuator TEXT PRIMARY KEY, value TEXT NOT NULL, who TEXT NOT NULL, until REAL NOT NULL,
    since REAL NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY, rule TEXT NOT NULL, room TEXT NOT NULL, severity TEXT NOT NULL,
    message TEXT NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL,
    active INTEGER NOT NULL, acknowledged_by TEXT, acknowledged_at REAL);
CREATE TABLE IF NOT EXISTS disabled_rules (rule TEXT PRIMARY KEY);
"""


def default_path(site: str) -> Path:
    return Path("var") / f"campusctl-{site}.sqlite"


class StateStore:
    """One site's state file."""

    def __init__(self, path: Path, site: str) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.executescript(SCHEMA)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as exc:
            raise CampusError(
                f"{path}: cannot open the state file ({exc}); give another with --state"
            ) from exc
        row = self.db.execute("SELECT value FROM meta WHERE key = 'site'").fetchone()
        if row is not None and row[0] != site:
            raise CampusError(
                f"{path} holds the state of site {row[0]!r}, not {site!r}: "
                "give this site its own file with --state"
            )
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('site', ?)", (site,))
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(VERSION),))

    def close(self) -> None:
        self.db.close()

    def load(self) -> Saved:
        db = self.db
        saved = Saved()
        for row in db.execute("SELECT * FROM instances ORDER BY rule, room"):
            saved.instances.append(SavedInstance(*row))
        for actuator, value, who, until, since, reason in db.execute(
            "SELECT * FROM overrides ORDER BY actuator"
        ):
            saved.overrides.append(
                SavedOverride(actuator, _value(value), who, until, since, reason)
            )
        for row in db.execute("SELECT * FROM alarms ORDER BY first_seen, id"):
            fields = list(row)
            fields[7] = bool(fields[7])
            saved.alarms.append(Alarm(*fields))
        saved.disabled = {r for (r,) in db.execute("SELECT rule FROM disabled_rules")}
        return saved

    def save_all(self, engine: Engine) -> None:
        """Replace the whole file's content with the engine's state."""
        saved = capture(engine)
        with self._transaction() as db:
            db.execute("DELETE FROM instances")
            db.executemany(
                "INSERT INTO instances VALUES (?, ?, ?, ?, ?, ?, ?)",
                [_instance_row(i) for i in saved.instances],
            )
            self._write_rest(db, engine)
        engine.take_touched()
        engine.durable_changed = False

    def save_changes(self, engine: Engine) -> int:
        """Write what changed since the last save; how many instance rows were written."""
        touched = engine.take_touched()
        if not touched and not engine.durable_changed and not engine.alarm_book.all():
            return 0
        live = engine.roster.instances
        upserts: list[tuple[object, ...]] = []
        deletes: list[tuple[str, str]] = []
        for instance in touched:
            record = save_instance(instance)
            if record is None or live.get((instance.rule.id, instance.room)) is not instance:
                deletes.append((instance.rule.id, instance.room))
            else:
                upserts.append(_instance_row(record))
        with self._transaction() as db:
            db.executemany("DELETE FROM instances WHERE rule = ? AND room = ?", deletes)
            db.executemany("INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?, ?)", upserts)
            self._write_rest(db, engine)
        engine.durable_changed = False
        return len(upserts) + len(deletes)

    def _write_rest(self, db: sqlite3.Connection, engine: Engine) -> None:
        """Overrides, alarms and disabled rules: few rows, always written whole."""
        db.execute("DELETE FROM overrides")
        db.executemany(
            "INSERT INTO overrides VALUES (?, ?, ?, ?, ?, ?)",
            [
                (o.actuator, json.dumps(o.value), o.who, o.until, o.since, o.reason)
                for o in overrides(engine)
            ],
        )
        db.execute("DELETE FROM alarms")
        db.executemany(
            "INSERT INTO alarms VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    a.id,
                    a.rule,
                    a.room,
                    a.severity,
                    a.message,
                    a.first_seen,
                    a.last_seen,
                    int(a.active),
                    a.acknowledged_by,
                    a.acknowledged_at,
                )
                for a in engine.alarms()
            ],
        )
        db.execute("DELETE FROM disabled_rules")
        db.executemany("INSERT INTO disabled_rules VALUES (?)", [(r,) for r in engine.disabled])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")


def _instance_row(record: SavedInstance) -> tuple[object, ...]:
    return (
        record.rule,
        record.room,
        record.fingerprint,
        record.state,
        record.since,
        record.active_since,
        record.hold_until,
    )


def _value(text: str) -> Value:
    value = json.loads(text)
    if isinstance(value, bool):
        return value
    return float(value)


class StateKeeper:
    """An extension that writes the engine's durable state to a StateStore as it changes."""

    name = "state"

    def __init__(self, store: StateStore, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        """Wall-clock seconds between two saves of what changed."""
        self._controller: Controller | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, controller: Controller) -> None:
        self._controller = controller
        self.store.save_all(controller.engine)
        controller.bus.subscribe(Audit, self._after_staff_action)
        self._task = asyncio.create_task(self._run(controller), name="state-keeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._controller is not None:
            self._controller.bus.unsubscribe(Audit, self._after_staff_action)
            self.store.save_all(self._controller.engine)
        self.store.close()

    def _after_staff_action(self, event: Audit) -> None:
        if self._controller is not None:
            if event.action == "reload-rules":
                self.store.save_all(self._controller.engine)
            else:
                self.store.save_changes(self._controller.engine)

    async def _run(self, controller: Controller) -> None:
        clock = controller.clock
        while True:
            await clock.sleep_until(clock.now() + self.interval * clock.speed)
            try:
                self.store.save_changes(controller.engine)
            except sqlite3.Error:
                log.exception("cannot write the state file %s", self.store.path)
