"""HTTPS: the writer checks the server's certificate against the configured CA (both APIs)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from campus.model import Campus
from campus.types import Reading
from controller.history.settings import HistorySettings
from tests.history.helpers import T0, recording, settled
from tests.support.influx import InfluxV1, Tls, VictoriaMetrics, make_tls
from tests.support.waiting import wait_for

pytestmark = pytest.mark.influxdb


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    return make_tls(tmp_path / "pki")


def record(campus: Campus, settings: HistorySettings, count: int) -> int:
    """Write `count` readings; returns how many InfluxDB took."""

    async def scenario() -> int:
        async with recording(campus, settings) as (controller, historian, _):
            controller.handle([[Reading("main.r101.co2", 400.0 + i, T0 + i)] for i in range(count)])
            await settled(historian)
            assert historian.writer is not None
            return historian.writer.stats.written

    return asyncio.run(scenario())


def test_v2_over_https_with_the_ca(
    tls: Tls,
    tmp_path: Path,
    make_campus: Callable[..., Campus],
    settings_for: Callable[..., HistorySettings],
) -> None:
    with VictoriaMetrics(tmp_path / "vm", tls=tls) as server:
        assert server.url.startswith("https://")
        settings = settings_for(server.url, ca_cert=str(tls.ca))
        assert record(make_campus("tls-v2"), settings, 20) == 20
        exported = server.export('{__name__="co2_value",site="tls-v2"}')
        assert sorted(v for s in exported for v in s["values"]) == [400.0 + i for i in range(20)]


def test_v1_over_https_with_the_ca(
    tls: Tls,
    tmp_path: Path,
    make_campus: Callable[..., Campus],
    settings_for: Callable[..., HistorySettings],
) -> None:
    with InfluxV1(tmp_path / "influx", tls=tls) as server:
        server.create_database("tls")
        settings = settings_for(
            server.url, api_version=1, bucket="tls", token=server.token, ca_cert=str(tls.ca)
        )
        assert record(make_campus("tls-v1"), settings, 20) == 20
        assert len(server.rows("SELECT value FROM co2", "tls")) == 20


@pytest.mark.parametrize("api", [1, 2])
def test_an_unknown_certificate_is_refused_and_the_points_wait(
    api: int,
    *,
    tls: Tls,
    tmp_path: Path,
    make_campus: Callable[..., Campus],
    settings_for: Callable[..., HistorySettings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with VictoriaMetrics(tmp_path / "vm", tls=tls) as server:
        settings = settings_for(server.url, api_version=api)  # no CA: the system's trust store

        async def scenario() -> None:
            async with recording(make_campus(f"tls-untrusted-{api}"), settings) as (
                controller,
                historian,
                _,
            ):
                writer = historian.writer
                assert writer is not None
                controller.handle([[Reading("main.r101.co2", 400.0 + i, T0 + i)] for i in range(5)])
                await wait_for(lambda: writer.spool.count == 5, "spooling")
                assert writer.stats.written == 0

        with caplog.at_level(logging.WARNING, logger="campusctl.history"):
            asyncio.run(scenario())
        assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
