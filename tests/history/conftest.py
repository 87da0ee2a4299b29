"""Fixtures for the history tests: real VictoriaMetrics and InfluxDB 1.6.7, a small campus."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from campus.config import load_campus
from campus.model import Campus
from controller.history.settings import HistorySettings
from tests.history.helpers import CAMPUS
from tests.support.influx import InfluxV1, VictoriaMetrics


@pytest.fixture
def make_campus(tmp_path: Path) -> Callable[..., Campus]:
    """A three-room campus loaded from campus.yaml text; `site` keeps tests apart in shared
    servers, `extra` adds top-level YAML (a history: section)."""

    def make(site: str = "hist", extra: str = "") -> Campus:
        path = tmp_path / f"campus-{site}.yaml"
        path.write_text(CAMPUS.replace("SITE", site) + extra)
        return load_campus(path)

    return make


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., HistorySettings]:
    """Settings for a server, fast to flush and retry, with the spool in the test's folder."""

    def make(url: str, **changes: object) -> HistorySettings:
        base = HistorySettings(
            url=url,
            bucket="campus",
            org="campus",
            spool=tmp_path / "spool.sqlite",
            flush_interval=0.05,
            retry_max=0.5,
            timeout=2.0,
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def victoria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VictoriaMetrics]:
    """One VictoriaMetrics for the session (tests keep apart by their site tag)."""
    with VictoriaMetrics(tmp_path_factory.mktemp("victoria")) as server:
        yield server


@pytest.fixture(scope="session")
def influx1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxV1]:
    """One InfluxDB 1.6.7 for the session (tests keep apart by their own database)."""
    with InfluxV1(tmp_path_factory.mktemp("influx1")) as server:
        yield server


@pytest.fixture
def fresh_victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A VictoriaMetrics of the test's own, for tests that stop or freeze it."""
    with VictoriaMetrics(tmp_path / "victoria") as server:
        yield server


@pytest.fixture
def fresh_influx1(tmp_path: Path) -> Iterator[InfluxV1]:
    """An InfluxDB 1.6.7 of the test's own, for tests that stop or freeze it."""
    with InfluxV1(tmp_path / "influx1") as server:
        yield server
