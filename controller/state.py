"""Durable controller state in one SQLite file: hold timers, latched rule states, overrides,
alarms and disabled rules (what rules.durable says must survive a restart).

Writes are batched: the engine marks what changed, and `StateKeeper` takes it once a second (of
wall time) and at once after a staff action, and writes it in one transaction on a thread of its
own, in the order taken, so neither a reading nor the event loop waits for a disk (a commit on
the loop held it for milliseconds: bench/README.md, "Measured on the old workload", item 6). A
crash loses at most that second; a clean stop writes everything. WAL mode keeps a reader
(`campusctl rules explain --state FILE`) from blocking the controller.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campus.problems import CampusError
from campus.text import clock_text, counted, value_text
from campus.types import Value
from controller.events import Audit
from controller.extension import end_task
from rules.alarms import Alarm
from rules.durable import Saved, SavedInstance, SavedOverride, capture, overrides, save_instance

if TYPE_CHECKING:
    from controller.runtime import Controller
    from rules.engine import Engine

log = logging.getLogger("campusctl.state")

VERSION = 1
LISTED = 10
"""Names per kind in the log line of what a start restored, before "and N more"."""
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
CREATE TABLE IF NOT EXISTS kpi_days (day TEXT PRIMARY KEY, counts TEXT NOT NULL);
"""


def default_path(site: str) -> Path:
    return Path("var") / f"campusctl-{site}.sqlite"


def log_restored(path: Path, taken: Saved, timezone: str) -> None:
    """One log line per kind of staff-visible state a start took up from its state file: a
    rule still disabled from an earlier run must not be a surprise (`campusctl run` and the
    demo alike)."""
    for line in restored_lines(taken, timezone):
        log.info("state file %s: %s", path, line)


def restored_lines(taken: Saved, timezone: str) -> list[str]:
    """``restored 1 disabled rule: r``, ``restored 2 overrides: a=on by alice until Mon 10:02,
    ...``, ``restored 0 holds``."""

    def until(ts: float) -> str:
        return clock_text(ts, timezone, "%a %H:%M")

    holds = [i for i in taken.instances if i.hold_until is not None]
    kinds = {
        "disabled rule": sorted(taken.disabled),
        "override": [
            f"{o.actuator}={value_text(o.value)} by {o.who} until {until(o.until)}"
            for o in taken.overrides
        ],
        "hold": [f"{i.rule}@{i.room} until {until(i.hold_until or 0.0)}" for i in holds],
    }
    lines = []
    for kind, names in kinds.items():
        shown = ", ".join(names[:LISTED])
        more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
        lines.append(
            f"restored {counted(len(names), kind)}" + (f": {shown}{more}" if names else "")
        )
    return lines


class StateStore:
    """One site's state file."""

    def __init__(self, path: Path, site: str) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # one thread at a time uses it: the loop's, or StateKeeper's writer while the loop
            # only takes changes
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
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

    def load_days(self) -> dict[str, dict[str, Any]]:
        """The KPI counts of the days kept (controller.kpi), by local date."""
        return {day: json.loads(counts) for day, counts in self.db.execute(
            "SELECT day, counts FROM kpi_days ORDER BY day")}  # fmt: skip

    def save_day(self, day: str, counts: dict[str, Any], keep: int) -> None:
        """Store one day's KPI counts and drop all but the newest `keep` days."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO kpi_days VALUES (?, ?)", (day, json.dumps(counts)))
            db.execute(
                "DELETE FROM kpi_days WHERE day NOT IN "
                "(SELECT day FROM kpi_days ORDER BY day DESC LIMIT ?)",
                (keep,),
            )

    def save_all(self, engine: Engine) -> None:
        """Replace the whole file's content with the engine's state."""
        self.write(take_all(engine))

    def save_changes(self, engine: Engine) -> int:
        """Write what changed since the last save; how many instance rows were written."""
        changes = take_changes(engine)
        if changes is None:
            return 0
        return self.write(changes)

    def write(self, changes: Changes) -> int:
        """Write changes taken from the engine (any thread, one at a time); how many instance
        rows were written."""
        with self._transaction() as db:
            if changes.whole:
                db.execute("DELETE FROM instances")
            db.executemany("DELETE FROM instances WHERE rule = ? AND room = ?", changes.deletes)
            db.executemany(
                "INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?, ?)", changes.upserts
            )
            if changes.overrides is not None:
                db.execute("DELETE FROM overrides")
                db.executemany("INSERT INTO overrides VALUES (?, ?, ?, ?, ?, ?)", changes.overrides)
            db.execute("DELETE FROM alarms")
            db.executemany(
                "INSERT INTO alarms VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", changes.alarms
            )
            if changes.disabled is not None:
                db.execute("DELETE FROM disabled_rules")
                db.executemany("INSERT INTO disabled_rules VALUES (?)", changes.disabled)
        return len(changes.upserts) + len(changes.deletes)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")


@dataclass
class Changes:
    """Rows to write, taken from the engine on the event loop (`take_changes`, `take_all`).

    Overrides, alarms and disabled rules are few and written whole: alarms every time (their
    `last_seen` moves without an event), overrides and disabled rules only when they changed
    (finding the overrides walks every actuator, on the loop: bench/README.md, "Measured on the
    old workload", item 15)."""

    whole: bool = False
    """Replace every instance row (else only upsert and delete these)."""
    upserts: list[tuple[object, ...]] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)
    alarms: list[tuple[object, ...]] = field(default_factory=list)
    overrides: list[tuple[object, ...]] | None = None
    """None: unchanged since the last take (the rows in the file stay)."""
    disabled: list[tuple[str]] | None = None
    """None: unchanged since the last take."""


def take_changes(engine: Engine) -> Changes | None:
    """What changed since the last take (None: nothing); marks it taken."""
    touched = engine.take_touched()
    if not touched and not engine.durable_changed and not engine.alarm_book.all():
        return None
    live = engine.roster.instances
    changes = Changes()
    for instance in touched:
        record = save_instance(instance)
        if record is None or live.get((instance.rule.id, instance.room)) is not instance:
            changes.deletes.append((instance.rule.id, instance.room))
        else:
            changes.upserts.append(_instance_row(record))
    _take_rest(changes, engine, staff=engine.staff_state_changed)
    return changes


def take_all(engine: Engine) -> Changes:
    """The engine's whole durable state; marks it taken."""
    changes = Changes(whole=True, upserts=[_instance_row(i) for i in capture(engine).instances])
    engine.take_touched()
    _take_rest(changes, engine, staff=True)
    return changes


def _take_rest(changes: Changes, engine: Engine, staff: bool) -> None:
    """Alarms, and with `staff` the overrides and disabled rules; marks them taken."""
    if staff:
        changes.overrides = [
            (o.actuator, json.dumps(o.value), o.who, o.until, o.since, o.reason)
            for o in overrides(engine)
        ]
        changes.disabled = [(r,) for r in engine.disabled]
    changes.alarms = [
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
    ]
    engine.durable_changed = False


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
        self._unsubscribe: Callable[[], None] = lambda: None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="state-writer")
        """One thread: writes happen in the order their changes were taken."""

    async def start(self, controller: Controller) -> None:
        self._controller = controller
        self.store.save_all(controller.engine)
        self._unsubscribe = controller.bus.subscribe(Audit, self._after_staff_action)
        self._task = asyncio.create_task(self._run(controller), name="state-keeper")

    async def stop(self) -> None:
        await end_task(self._task)
        await asyncio.to_thread(self._writer.shutdown)  # the writes already taken
        if self._controller is not None:
            self._unsubscribe()
            self.store.save_all(self._controller.engine)
        self.store.close()

    def _after_staff_action(self, event: Audit) -> None:
        if self._controller is not None:
            engine = self._controller.engine
            self._write(
                take_all(engine) if event.action == "reload-rules" else take_changes(engine)
            )

    async def _run(self, controller: Controller) -> None:
        clock = controller.clock
        while True:
            await clock.sleep_until(clock.now() + self.interval * clock.speed)
            self._write(take_changes(controller.engine))

    def keep_day(self, day: str, counts: dict[str, Any], keep: int) -> None:
        """Store a day's KPI counts, on the writer thread after what was taken before."""
        self._writer.submit(self.store.save_day, day, counts, keep).add_done_callback(self._written)

    def _write(self, changes: Changes | None) -> None:
        if changes is not None:
            self._writer.submit(self.store.write, changes).add_done_callback(self._written)

    def _written(self, done: Future[Any]) -> None:
        error = done.exception()
        if isinstance(error, sqlite3.Error):
            log.error("cannot write the state file %s: %s", self.store.path, error)
        elif error is not None:
            log.error("bug while writing the state file %s", self.store.path, exc_info=error)
