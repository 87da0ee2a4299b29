"""API v1: the same line protocol posted to a real InfluxDB 1.6.7's /write, read with InfluxQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from campus.model import Campus
from campus.types import Command, Quality, Reading
from controller.events import Audit
from controller.history.settings import HistorySettings
from rules.alarms import Alarm
from rules.events import AlarmChanged, Transition
from tests.history.helpers import T0, recording, settled
from tests.support.influx import InfluxV1
from tests.support.waiting import wait_for

pytestmark = pytest.mark.influxdb

US = int(T0 * 1_000_000)


def test_every_measurement_reads_back_with_influxql(
    influx1: InfluxV1,
    make_campus: Callable[..., Campus],
    settings_for: Callable[..., HistorySettings],
) -> None:
    influx1.create_database("v1_schema")
    campus = make_campus("v1-schema")
    settings = settings_for(
        influx1.url, api_version=1, bucket="v1_schema/autogen", token=influx1.token
    )

    async def scenario() -> None:
        async with recording(campus, settings) as (controller, historian, _):
            controller.handle(
                [
                    [
                        Reading("main.r101.co2", 801.0, T0),
                        Reading("main.r101.illuminance", 250.5, T0),
                    ],
                    [Reading("main.r102.occupancy", False, T0 + 1)],
                    [Reading("main.r102.occupancy", None, T0 + 2, Quality.UNAVAILABLE)],
                ]
            )
            controller.send(
                [Command("main.r102.lights", False, T0 + 3, "override:alice", 8, "staff: test")]
            )
            controller.bus.emit(
                Transition("ventilate", "main.r101", "active", "releasing", T0 + 4, "co2=790")
            )
            raised = Alarm("co2@main.r101", "co2", "main.r101", "critical", "CO2 2100 ppm",
                           T0 + 5, T0 + 5, True)  # fmt: skip
            controller.bus.emit(AlarmChanged(raised))
            acked = Alarm("co2@main.r101", "co2", "main.r101", "critical", "CO2 2100 ppm",
                          T0 + 5, T0 + 5, True, "bob", T0 + 6)  # fmt: skip
            controller.bus.emit(AlarmChanged(acked))
            controller.bus.emit(Audit("bob", "acknowledge-alarm", "co2@main.r101", T0 + 6))
            await settled(historian)

    asyncio.run(scenario())
    db = "v1_schema"
    assert influx1.rows("SELECT * FROM co2", db) == [
        {
            "time": US,
            "site": "v1-schema",
            "building": "main",
            "room": "r101",
            "source": "mqtt",
            "value": 801.0,
        }
    ]
    occupancy = influx1.rows('SELECT "value", "quality", "room" FROM occupancy', db)
    assert occupancy == [
        {"time": US + 1_000_000, "value": 0.0, "quality": None, "room": "r102"},
        {"time": US + 2_000_000, "value": None, "quality": "unavailable", "room": "r102"},
    ]
    assert influx1.rows("SELECT * FROM command", db) == [
        {
            "time": US + 3_000_000,
            "site": "v1-schema",
            "building": "main",
            "room": "r102",
            "actuator": "lights",
            "level": "override",
            "origin": "override",
            "value": 0.0,
            "priority": 8,
            "by": "override:alice",
            "reason": "staff: test",
        }
    ]
    [rule] = influx1.rows("SELECT * FROM rule", db)
    assert (rule["rule"], rule["state"], rule["from"], rule["cause"], rule["value"]) == (
        "ventilate", "releasing", "active", "co2=790", 1.0,
    )  # fmt: skip
    alarms = influx1.rows('SELECT "event", "value", "acknowledged", "by", "message" FROM alarm', db)
    assert alarms == [
        {"time": US + 5_000_000, "event": "raised", "value": 1.0, "acknowledged": False,
         "by": "", "message": "CO2 2100 ppm"},
        {"time": US + 6_000_000, "event": "acknowledged", "value": 1.0, "acknowledged": True,
         "by": "bob", "message": "CO2 2100 ppm"},
    ]  # fmt: skip
    assert influx1.rows("SELECT * FROM audit", db) == [
        {"time": US + 6_000_000, "site": "v1-schema", "action": "acknowledge-alarm",
         "who": "bob", "detail": "co2@main.r101"},
    ]  # fmt: skip


def test_a_refused_point_is_logged_and_the_others_are_written(
    influx1: InfluxV1,
    make_campus: Callable[..., Campus],
    settings_for: Callable[..., HistorySettings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    influx1.create_database("v1_refused")
    # Someone wrote humidity as text: InfluxDB 1.x now refuses float humidity in that shard.
    status, body = influx1.http(
        "POST",
        "/write?db=v1_refused&precision=u",
        f'humidity,site=other value="wet" {US}'.encode(),
        auth=(influx1.user, influx1.password),
    )
    assert status == 204, body
    campus = make_campus("v1-refused")
    settings = settings_for(influx1.url, api_version=1, bucket="v1_refused", token=influx1.token)
    readings = [Reading(f"main.r101.{name}", 10.0 + i, T0 + i) for i, name in enumerate(
        ["co2", "temperature", "humidity", "illuminance", "co2", "temperature"])]  # fmt: skip

    async def scenario() -> None:
        async with recording(campus, settings) as (controller, historian, _):
            controller.handle([[reading] for reading in readings])
            await settled(historian)
            assert historian.writer is not None
            assert historian.writer.stats.rejected == 1
            assert historian.writer.stats.written == 5

    with caplog.at_level(logging.ERROR, logger="campusctl.history"):
        asyncio.run(scenario())
    [refusal] = [r.getMessage() for r in caplog.records if "refused a point" in r.getMessage()]
    assert "field type conflict" in refusal
    assert (
        f"humidity,building=main,room=r101,site=v1-refused,source=mqtt value=12 {US + 2_000_000}"
        in refusal
    )
    written = influx1.rows("SELECT \"value\" FROM /.*/ WHERE site = 'v1-refused'", "v1_refused")
    assert sorted(r["value"] for r in written) == [10.0, 11.0, 13.0, 14.0, 15.0]


REFUSALS = {"no-database": "database not found", "unknown-user": "authorization failed"}


@pytest.mark.parametrize("problem", list(REFUSALS))
def test_a_server_that_refuses_us_as_a_whole_keeps_the_points_until_fixed(
    problem: str,
    influx1: InfluxV1,
    make_campus: Callable[..., Campus],
    settings_for: Callable[..., HistorySettings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = f"v1_{problem.replace('-', '_')}"
    user = "writer_" + db
    token = influx1.token if problem == "no-database" else f"{user}:secret"
    campus = make_campus(f"v1-{problem}")
    settings = settings_for(influx1.url, api_version=1, bucket=db, token=token)
    if problem == "unknown-user":
        influx1.create_database(db)

    async def scenario() -> None:
        async with recording(campus, settings) as (controller, historian, _):
            writer = historian.writer
            assert writer is not None
            controller.handle([[Reading("main.r101.co2", 500.0 + i, T0 + i)] for i in range(50)])
            await wait_for(lambda: writer.spool.count == 50, "spooling")
            assert not writer.available
            assert writer.stats.rejected == 0
            # A person fixes the server; the writer's next retry delivers everything.
            if problem == "no-database":
                influx1.create_database(db)
            else:
                influx1.query(f"CREATE USER {user} WITH PASSWORD 'secret'")
                influx1.query(f'GRANT WRITE ON "{db}" TO {user}')
            await settled(historian, "the spooled points to go out")
            assert writer.stats.written == 50

    with caplog.at_level(logging.ERROR, logger="campusctl.history"):
        asyncio.run(scenario())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(REFUSALS[problem] in e and "spool" in e for e in errors), errors
    values = [r["value"] for r in influx1.rows("SELECT value FROM co2", db)]
    assert values == [500.0 + i for i in range(50)]
