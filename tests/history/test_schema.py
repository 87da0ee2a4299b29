"""The schema of docs/influxdb.md, line by line: what each event becomes."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import pytest

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
