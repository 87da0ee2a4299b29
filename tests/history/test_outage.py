"""Outages against real servers: stopped under load, frozen, down across a controller restart.

What is checked is what an operator cares about: every point made while the server was away
arrives once it is back, exactly once, and the controller never waited for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from campus.model import Campus
from campus.types import Reading
from controller.history.settings import HistorySettings
from tests.history.helpers import T0, recording, settled
from tests.support.influx import InfluxV1, Server, VictoriaMetrics
from tests.support.waiting import wait_for

pytestmark = pytest.mark.influxdb

POINTS = [f"{room}.{name}" for room in ("main.r101", "main.r102", "annex.r201")
          for name in ("co2", "temperature")]  # fmt: skip
LOAD = 9000
"""Readings made during the test, every one a new value (so every one must be written)."""
RATE = 1500
"""Readings per wall-clock second the controller is fed."""


def reading(i: int) -> Reading:
    return Reading(POINTS[i % len(POINTS)], float(i), T0 + i * 0.01)


def arrived_v2(server: VictoriaMetrics, site: str) -> list[float]:
    out: list[float] = []
    for s in server.export(f'{{__name__=~"co2_value|temperature_value",site="{site}"}}'):
        out.extend(s["values"])
    return sorted(out)


def arrived_v1(server: InfluxV1, db: str) -> list[float]:
    rows = server.rows('SELECT "value" FROM "co2", "temperature"', db)
    return sorted(r["value"] for r in rows)


@pytest.mark.parametrize(
    ("api", "down"),
    [
        ("v2-victoria-metrics", 2.0),
        ("v1-influxdb", 2.0),
        pytest.param("v2-victoria-metrics", 60.0, marks=pytest.mark.faults, id="down-60s"),
    ],
)
def test_a_server_stopped_under_load_gets_every_point_exactly_once(
    api: str,
    down: float,
    tmp_path_factory: pytest.TempPathFactory,
    make_campus: Callable[..., Campus],
    settings_for: Callable[..., HistorySettings],
) -> None:
    site = f"outage-{api[:2]}"
    server: Server
    if api.startswith("v2"):
        server = VictoriaMetrics(tmp_path_factory.mktemp("vm-outage"))
    else:
        server = InfluxV1(tmp_path_factory.mktemp("influx-outage"))
    with server:
        if isinstance(server, InfluxV1):
            server.create_database("outage")
            settings = settings_for(server.url, api_version=1, bucket="outage", token=server.token)
        else:
            settings = settings_for(server.url, token="t")
        campus = make_campus(site)

        async def scenario() -> int:
            """Feed load before, during and after the outage; how many readings were made."""
            async with recording(campus, settings) as (controller, historian, _):
                writer = historian.writer
                assert writer is not None
                outage: asyncio.Task[None] | None = None
                made = 0
                while made < LOAD or outage is None or not outage.done():
                    controller.handle([[reading(i)] for i in range(made, made + RATE // 20)])
                    made += RATE // 20
                    if made >= LOAD // 3 and outage is None:
                        outage = asyncio.create_task(stop_for(server, down))
                    await asyncio.sleep(0.05)
                await settled(historian, "every point to reach the restarted server")
                assert writer.stats.spooled > 0, "the outage did not spool anything"
                assert writer.stats.rejected == writer.stats.lost == 0
                return made

        made = asyncio.run(scenario())
        if isinstance(server, VictoriaMetrics):
            assert arrived_v2(server, site) == [float(i) for i in range(made)]
        else:
            assert isinstance(server, InfluxV1)
            assert arrived_v1(server, "outage") == [float(i) for i in range(made)]


async def stop_for(server: Server, seconds: float) -> None:
    """Stop the server, keep it down while `seconds` of load is made, start it again."""
    await asyncio.to_thread(server.stop)
    await asyncio.sleep(seconds)
    await asyncio.to_thread(server.start)


def test_a_frozen_server_never_holds_up_the_controller(
    fresh_influx1: InfluxV1,
    make_campus: Callable[..., Campus],
    settings_for: Callable[..., HistorySettings],
) -> None:
    server = fresh_influx1
    server.create_database("frozen")
    settings = settings_for(
        server.url, api_version=1, bucket="frozen", token=server.token, timeout=60.0
    )
    campus = make_campus("frozen")

    async def scenario() -> None:
        async with recording(campus, settings) as (controller, historian, _):
            writer = historian.writer
            assert writer is not None
            controller.handle([[reading(0)]])
            await settled(historian)
            server.freeze()  # accepts connections, answers nothing, for up to a minute
            try:
                controller.handle([[reading(1)]])
                await wait_for(lambda: not writer.idle and not writer.queued, "a hanging write")
                for start in range(2, 20_002, 500):
                    controller.handle([[reading(i)] for i in range(start, start + 500)])
                    await asyncio.sleep(0)
                # The controller took all 20,000 readings while the write still hangs.
                assert controller.readings == 20_002
                assert writer.stats.written == 1
                assert not writer.idle
            finally:
                server.thaw()
            await settled(historian, "the points queued behind the frozen write")
            assert writer.stats.written == 20_002

    asyncio.run(scenario())
    assert arrived_v1(server, "frozen") == [float(i) for i in range(20_002)]


def test_points_spooled_at_shutdown_reach_the_server_after_a_restart(
    fresh_influx1: InfluxV1,
    make_campus: Callable[..., Campus],
    settings_for: Callable[..., HistorySettings],
) -> None:
    server = fresh_influx1
    server.create_database("restart")
    settings = settings_for(server.url, api_version=1, bucket="restart", token=server.token)
    campus = make_campus("restart")
    server.stop()

    async def before() -> int:
        async with recording(campus, settings) as (controller, historian, _):
            controller.handle([[reading(i)] for i in range(300)])
            writer = historian.writer
            assert writer is not None
            await wait_for(lambda: writer.spool.count == 300, "spooling")
        return writer.spool.count

    async def after() -> None:
        async with recording(campus, settings, start=T0 + 10) as (controller, historian, _):
            controller.handle([[reading(i)] for i in range(300, 400)])
            await settled(historian, "the points from before the restart")

    assert asyncio.run(before()) == 300
    server.start()
    asyncio.run(after())
    assert arrived_v1(server, "restart") == [float(i) for i in range(400)]
