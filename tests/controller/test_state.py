"""The SQLite state file: what is written, read back, and refused."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from campus.clock import VirtualClock
from campus.problems import CampusError
from campus.types import Reading
from controller.service import ServiceOptions, build_controller
from controller.state import StateStore, take_changes
from rules.engine import Engine
from rules.loader import load_rules
from tests.conftest import EXAMPLES
from tests.controller.harness import START, demo_campus

T = START


def engine_with_activity() -> Engine:
    campus = demo_campus()
    engine = Engine(campus, load_rules([EXAMPLES / "rules"], campus), T, settle=0.0)
    engine.advance(T)
    engine.on_reading(Reading("main.r101.occupancy", True, T + 1))
    engine.on_reading(Reading("main.r101.co2", 1100.0, T + 1))
    engine.set_override("main.r102.lights", True, T + 3600, "alice", T + 2)
    engine.set_rule_enabled("corridor-lights-on-motion", False, T + 3)
    return engine


def test_everything_durable_round_trips(tmp_path: Path) -> None:
    engine = engine_with_activity()
    store = StateStore(tmp_path / "deep" / "er" / "state.sqlite", "demo")
    store.save_all(engine)
    store.close()
    saved = StateStore(tmp_path / "deep" / "er" / "state.sqlite", "demo").load()
    assert sorted((i.rule, i.room, i.state, i.hold_until) for i in saved.instances) == [
        ("ventilate-in-proportion", "main.r101", "active", None),
        ("ventilate-stuffy-classrooms", "main.r101", "pending", T + 1 + 120),
    ]
    (override,) = saved.overrides
    assert (override.actuator, override.value, override.who, override.until) == (
        "main.r102.lights",
        True,
        "alice",
        T + 3600,
    )
    assert saved.disabled == {"corridor-lights-on-motion"}


def test_changes_are_written_incrementally(tmp_path: Path) -> None:
    engine = engine_with_activity()
    store = StateStore(tmp_path / "s.sqlite", "demo")
    store.save_all(engine)
    assert store.save_changes(engine) == 0
    engine.on_reading(Reading("main.r101.co2", 700.0, T + 30))  # the hold breaks
    assert store.save_changes(engine) == 1
    rows = store.db.execute("SELECT rule, state FROM instances ORDER BY rule").fetchall()
    assert rows == [("ventilate-in-proportion", "active")]


def test_overrides_and_disabled_rules_are_rewritten_only_when_they_changed(
    tmp_path: Path,
) -> None:
    # finding the overrides walks every actuator: a take of readings' changes must not do it,
    # and must not lose the rows already in the file
    engine = engine_with_activity()
    store = StateStore(tmp_path / "s.sqlite", "demo")
    store.save_all(engine)
    engine.on_reading(Reading("main.r101.co2", 700.0, T + 30))
    changes = take_changes(engine)
    assert changes is not None
    assert changes.deletes  # the hold broke
    assert changes.overrides is None
    assert changes.disabled is None
    store.write(changes)
    assert store.load().overrides[0].actuator == "main.r102.lights"
    assert store.load().disabled == {"corridor-lights-on-motion"}

    engine.advance(T + 3600)  # the override expires: a change of its own
    assert store.save_changes(engine) == 0
    assert store.load().overrides == []
    engine.set_rule_enabled("corridor-lights-on-motion", True, T + 3601)
    store.save_changes(engine)
    assert store.load().disabled == set()


def test_another_sites_file_is_refused(tmp_path: Path) -> None:
    StateStore(tmp_path / "s.sqlite", "north").close()
    with pytest.raises(CampusError, match=r"holds the state of site 'north', not 'demo'"):
        StateStore(tmp_path / "s.sqlite", "demo")


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "s.sqlite"
    bad.write_text("not a database, just text " * 100)
    with pytest.raises(
        CampusError, match=r"cannot open the state file .*give another with --state"
    ):
        StateStore(bad, "demo")
    assert sqlite3.sqlite_version  # the stdlib module, no extra dependency


def test_a_start_logs_what_it_restored_from_the_state_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A rule disabled in an earlier run stays disabled: the log must say so at start."""
    store = StateStore(tmp_path / "s.sqlite", "demo")
    store.save_all(engine_with_activity())
    store.close()
    campus = demo_campus()
    ruleset = load_rules([EXAMPLES / "rules"], campus)
    options = ServiceOptions(state=tmp_path / "s.sqlite", watch_rules=0, heartbeat=0)
    caplog.set_level(logging.INFO, logger="campusctl.state")
    build_controller(campus, ruleset, VirtualClock(T + 10), options)
    assert [r.getMessage() for r in caplog.records if r.name == "campusctl.state"] == [
        f"state file {tmp_path / 's.sqlite'}: {line}"
        for line in (
            "restored 1 disabled rule: corridor-lights-on-motion",
            "restored 1 override: main.r102.lights=on by alice until Mon 09:20",
            "restored 1 hold: ventilate-stuffy-classrooms@main.r101 until Mon 08:22",
        )
    ]


def test_a_fresh_state_file_restores_nothing_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    campus = demo_campus()
    ruleset = load_rules([EXAMPLES / "rules"], campus)
    options = ServiceOptions(state=tmp_path / "new.sqlite", watch_rules=0, heartbeat=0)
    caplog.set_level(logging.INFO, logger="campusctl.state")
    build_controller(campus, ruleset, VirtualClock(T), options)
    logged = [r.getMessage() for r in caplog.records if r.name == "campusctl.state"]
    assert [line.split(": ", 1)[1] for line in logged] == [
        "restored 0 disabled rules",
        "restored 0 overrides",
        "restored 0 holds",
    ]
