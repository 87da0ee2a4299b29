"""The schema of docs/influxdb.md, line by line: what each event becomes."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from campus import wire
from campus.model import Campus
from campus.types import Command, Quality, Reading
from controller.events import Audit
from controller.history.changes import ChangeFilter
from controller.history.schema import Row, Schema
from rules.alarms import Alarm
from rules.events import AlarmChanged, Transition
from tests.history.helpers import T0

US = int(T0 * 1_000_000)
TAGS = "building=main,room=r101,site=hist"


@pytest.fixture
def schema(make_campus: Callable[..., Campus]) -> Schema:
    return Schema(make_campus(), ChangeFilter(heartbeat=300, deadband={}))


def line(schema: Schema, event: object) -> str:
    [one] = schema.lines([event])
    return one.decode()


def test_readings_are_one_measurement_per_quantity_with_a_float_value(schema: Schema) -> None:
    assert line(schema, Reading("main.r101.co2", 812, T0)) == (
        f"co2,{TAGS},source=mqtt value=812 {US}"
    )
    assert line(schema, Reading("main.r101.temperature", 21.25, T0)) == (
        f"temperature,{TAGS},source=mqtt value=21.25 {US}"
    )
    assert line(schema, Reading("main.r101.occupancy", True, T0 + 0.000001)) == (
        f"occupancy,{TAGS},source=mqtt value=1 {US + 1}"
    )
    assert line(schema, Reading("main.r101.lights", False, T0)) == (
        f"lights,{TAGS},source=mqtt value=0 {US}"
    )


def test_an_unavailable_device_writes_its_quality_instead_of_a_value(schema: Schema) -> None:
    assert line(schema, Reading("main.r101.co2", None, T0, Quality.UNAVAILABLE)) == (
        f'co2,{TAGS},source=mqtt quality="unavailable" {US}'
    )


def test_values_that_are_not_numbers_and_unknown_points_are_not_written(schema: Schema) -> None:
    assert schema.lines([Reading("main.r101.co2", float("nan"), T0)]) == []
    assert schema.lines([Reading("main.r999.co2", 500.0, T0)]) == []


def test_a_command_carries_actuator_level_origin_and_rule_as_tags(schema: Schema) -> None:
    command = Command("main.r101.ventilation", 60.0, T0, "rule:ventilate-stuffy", 10,
                      'co2 = 1210 ppm, "held" 2m')  # fmt: skip
    assert line(schema, command) == (
        "command,actuator=ventilation,building=main,level=comfort,origin=rule,room=r101,"
        "rule=ventilate-stuffy,site=hist "
        'by="rule:ventilate-stuffy",priority=10i,reason="co2 = 1210 ppm, \\"held\\" 2m",'
        f"value=60 {US}"
    )


def test_a_person_is_a_field_never_a_tag(schema: Schema) -> None:
    command = Command("main.r101.lights", True, T0, "override:Kari Nordmann", 8, "staff")
    assert line(schema, command) == (
        "command,actuator=lights,building=main,level=override,origin=override,room=r101,"
        f'site=hist by="override:Kari Nordmann",priority=8i,reason="staff",value=1 {US}'
    )
    default = Command("main.r101.lights", False, T0, "default", 17, "nobody holds it")
    assert line(schema, default).startswith(
        "command,actuator=lights,building=main,level=default,origin=default,room=r101,site=hist by="
    )


def test_rule_transitions(schema: Schema) -> None:
    event = Transition("ventilate", "main.r101", "pending", "active", T0, "held 120s")
    assert line(schema, event) == (
        "rule,building=main,room=r101,rule=ventilate,site=hist,state=active "
        f'cause="held 120s",from="pending",value=1 {US}'
    )
    event = Transition("ventilate", "main.r101", "releasing", "inactive", T0, "held 600s")
    assert line(schema, event).endswith(f'from="releasing",value=0 {US}')


def test_alarm_changes_say_what_happened(schema: Schema) -> None:
    raised = Alarm("co2@main.r101", "co2", "main.r101", "warning", "CO2 1600 ppm in R101",
                   T0, T0, True)  # fmt: skip
    tags = "alarm,building=main,event={},room=r101,rule=co2,severity=warning,site=hist"
    assert line(schema, AlarmChanged(raised)) == (
        f'{tags.format("raised")} acknowledged=false,by="",message="CO2 1600 ppm in R101",'
        f"value=1 {US}"
    )
    acked = dataclasses.replace(raised, acknowledged_by="kari", acknowledged_at=T0 + 60)
    assert line(schema, AlarmChanged(acked)) == (
        f'{tags.format("acknowledged")} acknowledged=true,by="kari",message="CO2 1600 ppm in R101",'
        f"value=1 {US + 60_000_000}"
    )
    cleared = Alarm("co2@main.r101", "co2", "main.r101", "warning", "CO2 1600 ppm in R101",
                    T0, T0 + 120, False, "kari", T0 + 60)  # fmt: skip
    assert line(schema, AlarmChanged(cleared)) == (
        f'{tags.format("cleared")} acknowledged=true,by="kari",message="CO2 1600 ppm in R101",'
        f"value=0 {US + 120_000_000}"
    )


def test_staff_actions_are_audited(schema: Schema) -> None:
    event = Audit("kari", "override", "main.r101.lights = on for 3600 s", T0)
    assert line(schema, event) == (
        f'audit,action=override,site=hist detail="main.r101.lights = on for 3600 s",who="kari" {US}'
    )


def kpi_message(**changes: object) -> wire.KpiMessage:
    message = wire.KpiMessage(
        site="hist", shard="", ts=T0, day="2026-11-18", rooms=3, area_m2=180, rooms_in_use=1,
        occupied_minutes=90, co2_minutes=80, co2_within_1000_minutes=60,
        co2_within_1400_minutes=80, co2_within_1000=0.75, co2_within_1400=1.0,
        worst_room="main.r101", worst_co2=1210.0, temperature_minutes=0,
        temperature_comfort_minutes=0, temperature_comfort=None,
        alarms={"warning": 2, "critical": 1}, alarms_unacknowledged=1, overrides=1,
        overrides_over_4h=0, lights_kwh=1.25, ventilation_kwh=0.5, outside_timetable_kwh=0.125,
        lights_kwh_last_week=None, ventilation_kwh_last_week=None, uptime_s=3600,
    )  # fmt: skip
    return dataclasses.replace(message, **changes)  # type: ignore[arg-type]


def test_the_site_kpis_are_one_point_a_minute_with_every_figure(schema: Schema) -> None:
    assert line(schema, kpi_message()) == (
        "kpi,site=hist "
        "alarms=3i,alarms_critical=1i,alarms_info=0i,alarms_unacknowledged=1i,alarms_warning=2i,"
        "area_m2=180,co2_minutes=80i,co2_within_1000=0.75,co2_within_1000_minutes=60i,"
        'co2_within_1400=1,co2_within_1400_minutes=80i,day="2026-11-18",lights_kwh=1.25,'
        "occupied_minutes=90i,outside_timetable_kwh=0.125,overrides=1i,overrides_over_4h=0i,"
        "rooms=3i,rooms_in_use=1i,temperature_comfort_minutes=0i,temperature_minutes=0i,"
        f'uptime_s=3600,ventilation_kwh=0.5,worst_co2=1210,worst_room="main.r101" {US}'
    )
    known = dataclasses.replace(
        kpi_message(shard="main", worst_room=None, worst_co2=None, co2_within_1000=None),
        temperature_comfort=0.5, lights_kwh_last_week=2.0, ventilation_kwh_last_week=1,
    )  # fmt: skip
    series, fields, _ = line(schema, known).split(" ")
    assert series == "kpi,shard=main,site=hist"
    written = dict(field.split("=") for field in fields.split(","))
    assert written["temperature_comfort"] == "0.5"
    assert (written["lights_kwh_last_week"], written["ventilation_kwh_last_week"]) == ("2", "1")
    assert {"worst_room", "worst_co2", "co2_within_1000"}.isdisjoint(written), "nulls left out"


def test_docs_list_every_kpi_field_written(schema: Schema) -> None:
    """docs/influxdb.md's `kpi` table names exactly the fields a message with every figure
    known writes."""
    full = kpi_message(temperature_comfort=1.0, lights_kwh_last_week=1.0,
                       ventilation_kwh_last_week=0.5)  # fmt: skip
    _, fields, _ = line(schema, full).split(" ")
    written = {field.split("=")[0] for field in fields.split(",")}
    text = (Path(__file__).resolve().parents[2] / "docs" / "influxdb.md").read_text()
    section = text.split("### `kpi`", 1)[1].split("\n#", 1)[0]
    documented = {
        name
        for row in section.splitlines()
        if row.startswith("| field |")
        for name in re.findall(r"`(\w+)`", row.split("|")[2])
    }
    assert documented == written


def test_every_measurement_carries_the_site_tag(schema: Schema) -> None:
    alarm = Alarm("co2@main.r101", "co2", "main.r101", "warning", "CO2 high", T0, T0, True)
    events: list[object] = [
        Reading("main.r101.co2", 812, T0),
        Reading("main.r101.co2", None, T0 + 1, Quality.UNAVAILABLE),
        Command("main.r101.lights", True, T0, "override:kari", 8, "staff"),
        Transition("ventilate", "main.r101", "pending", "active", T0, "held 120s"),
        AlarmChanged(alarm),
        Audit("kari", "reload-rules", "2 rules", T0),
        kpi_message(),
        kpi_message(shard="main"),
    ]
    lines = [one.decode() for one in schema.lines(events)]
    assert len(lines) == len(events)
    for text in lines:
        series = text.split(" ", 1)[0]
        assert "site=hist" in series.split(",")[1:], text


def test_a_point_named_like_a_schema_measurement_is_warned_about(
    make_campus: Callable[..., Campus], caplog: pytest.LogCaptureFixture
) -> None:
    campus = make_campus()
    room = campus.rooms[0]
    spec = room.points["co2"]
    room.points["alarm"] = type(spec)(f"{room.id}.alarm", "alarm", room.id, mqtt=spec.mqtt)
    with caplog.at_level(logging.WARNING, logger="campusctl.history"):
        Schema(campus, ChangeFilter(300, {}))
    assert "called 'alarm'" in caplog.text


@pytest.mark.parametrize(
    "value", [0.0, -0.0, 412, 21.25, 1e-7, 1.5e21, 123456789.123, -3.0, True, False, 0.1 + 0.2]
)
def test_the_fast_reading_line_is_byte_for_byte_influxdb_clients_point(
    schema: Schema, value: float
) -> None:
    reading = Reading("annex.r201.temperature", value, T0 + 0.123456)
    assert (
        schema.reading_line(reading)
        == Row(
            "temperature",
            {"site": "hist", "building": "annex", "room": "r201", "source": "mqtt"},
            {"value": float(value)},
            reading.ts,
        ).line()
    )
