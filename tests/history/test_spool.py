"""The SQLite spool: order, durability across reopening, the cap and its warning."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from campus.problems import CampusError
from controller.history.spool import Spool


def lines(first: int, last: int) -> list[bytes]:
    """Points whose time is their number of seconds after 2026-11-18 11:06:40 UTC."""
    return [
        f"co2 value={100 + i} {(1_795_000_000 + i) * 1_000_000}".encode()
        for i in range(first, last)
    ]


def test_points_come_out_oldest_first_and_survive_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", 10**6)
    spool.append(lines(0, 5))
    spool.append(lines(5, 8))
    head = spool.head(3)
    assert [line for _, line in head] == lines(0, 3)
    spool.remove(head[:2])
    spool.close()
    again = Spool(tmp_path / "s.sqlite", 10**6)
    assert again.count == 6
    assert again.bytes == sum(len(x) for x in lines(2, 8))
    assert [line for _, line in again.head(100)] == lines(2, 8)
    again.remove(again.head(100))
    assert again.count == again.bytes == 0
    assert again.head(10) == []


def test_past_the_cap_the_oldest_points_are_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    size = len(lines(0, 1)[0])
    spool = Spool(tmp_path / "s.sqlite", 10 * size)
    with caplog.at_level(logging.WARNING, logger="campusctl.history"):
        spool.append(lines(0, 7))
        assert not [r for r in caplog.records if "dropped" in r.getMessage()]
        spool.append(lines(7, 15))
    assert [line for _, line in spool.head(100)] == lines(5, 15)
    assert spool.dropped_total == 5
    messages = [r.getMessage() for r in caplog.records]
    assert any("holds 10 points (100% of its 300 bytes cap)" in m for m in messages), messages
    [dropped] = [m for m in messages if "dropped the" in m]
    assert "the 5 oldest points" in dropped
    assert "from 2026-11-18 11:06:40 UTC to 2026-11-18 11:06:44 UTC" in dropped
    assert "--influx-spool-max-mb" in dropped


def test_a_spool_from_another_format_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=7")
    with pytest.raises(CampusError, match="has format 7"):
        Spool(path, 10**6)


def test_an_unwritable_place_says_which_option_to_change(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CampusError, match="--influx-spool"):
        Spool(blocker / "spool.sqlite", 10**6)
