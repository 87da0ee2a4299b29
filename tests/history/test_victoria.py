"""API v2: influxdb-client's write API against a real VictoriaMetrics, read back by export."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from campus.model import Campus
from campus.types import Command, Quality, Reading
from controller.events import Audit
from controller.history.settings import HistorySettings
from rules.alarms import Alarm
from rules.events import AlarmChanged, Transition
from tests.history.helpers import T0, recording, settled
from tests.support.influx import VictoriaMetrics

pytestmark = pytest.mark.influxdb


def series(server: VictoriaMetrics, site: str, name: str) -> dict[tuple[str, ...], list[Any]]:
    """``(building, room) -> [(ms, value)...]`` of one exported series family."""
    out: dict[tuple[str, ...], list[Any]] = {}
    for s in server.export(f'{{__name__="{name}",site="{site}"}}'):
        labels = s["metric"]
        key = tuple(labels.get(k, "") for k in ("building", "room"))
        out.setdefault(key, []).extend(zip(s["timestamps"], s["values"], strict=True))
    return {k: sorted(v) for k, v in out.items()}


def test_readings_commands_and_rule_events_arrive_in_victoria_metrics(
    victoria: VictoriaMetrics,
    make_campus: Callable[..., Campus],
    settings_for: Callable[..., HistorySettings],
) -> None:
    campus = make_campus("v2-basic")
    settings = settings_for(victoria.url, token="any-token")

    async def scenario() -> None:
        async with recording(campus, settings) as (controller, historian, _):
            controller.handle(
                [
                    [Reading("main.r101.co2", 612.0, T0), Reading("main.r101.occupancy", True, T0)],
                    [Reading("annex.r201.co2", 450.0, T0 + 1)],
                    [Reading("main.r101.co2", 612.0, T0 + 10)],  # unchanged: not written
                    [Reading("main.r101.co2", 1033.5, T0 + 20)],
                    [Reading("main.r101.lights", True, T0 + 21)],  # the device's reported state
                    [Reading("main.r102.co2", None, T0 + 22, Quality.UNAVAILABLE)],
                ]
            )
            controller.send(
                [
                    Command(
                        "main.r101.lights",
                        True,
                        T0 + 20.5,
                        "rule:lights-when-occupied",
                        10,
                        "occupied and dark",
                    )
                ]
            )
            controller.bus.emit(
                Transition("ventilate", "main.r101", "pending", "active", T0 + 30, "held 120s")
            )
            alarm = Alarm("co2@main.r101", "co2", "main.r101", "warning", "CO2 high", T0 + 31,
                          T0 + 31, True)  # fmt: skip
            controller.bus.emit(AlarmChanged(alarm))
            controller.bus.emit(Audit("alice", "override", "main.r101.lights = on", T0 + 40))
            await settled(historian)
            assert historian.writer is not None
            assert historian.writer.stats.written == 10
            assert historian.writer.stats.rejected == 0

    asyncio.run(scenario())
    ms = int(T0 * 1000)
    co2 = series(victoria, "v2-basic", "co2_value")
    assert co2 == {
        ("main", "r101"): [(ms, 612.0), (ms + 20_000, 1033.5)],
        ("annex", "r201"): [(ms + 1000, 450.0)],
    }
    assert series(victoria, "v2-basic", "occupancy_value") == {("main", "r101"): [(ms, 1.0)]}
    assert series(victoria, "v2-basic", "lights_value") == {("main", "r101"): [(ms + 21_000, 1)]}
    [command] = victoria.export('{__name__="command_value",site="v2-basic"}')
    assert command["metric"] == {
        "__name__": "command_value",
        "site": "v2-basic",
        "building": "main",
        "room": "r101",
        "actuator": "lights",
        "level": "comfort",
        "origin": "rule",
        "rule": "lights-when-occupied",
    }
    assert command["values"] == [1]
    assert command["timestamps"] == [ms + 20_500]
    [priority] = victoria.export('{__name__="command_priority",site="v2-basic"}')
    assert priority["values"] == [10]
    [rule] = victoria.export('{__name__="rule_value",site="v2-basic"}')
    assert rule["metric"]["rule"] == "ventilate"
    assert rule["metric"]["state"] == "active"
    assert rule["values"] == [1]
    [raised] = victoria.export('{__name__="alarm_value",site="v2-basic"}')
    assert raised["metric"]["event"] == "raised"
    assert raised["metric"]["severity"] == "warning"
    # Free text (reasons, causes, messages, people) never becomes a label.
    every = victoria.export('{site="v2-basic"}')
    labels = {k for s in every for k in s["metric"]}
    assert labels <= {
        "__name__", "site", "building", "room", "source", "actuator", "level", "origin",
        "rule", "state", "severity", "event", "action",
    }  # fmt: skip
