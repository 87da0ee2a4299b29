"""Shared pieces of the history tests: the campus text, a fixed time, waiting with a deadline."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from campus.clock import VirtualClock
from campus.model import Campus
from controller.history.extension import Historian
from controller.history.settings import HistorySettings
from controller.runtime import Controller
from rules.schema import RuleSet
from tests.support.waiting import wait_for

CAMPUS = """\
site: {id: SITE, name: History School, timezone: Europe/Oslo}
kinds:
  classroom:
    points:
      occupancy: {type: bool, mqtt: &ms {topic: "zigbee2mqtt/{building}-{room}-ms"}}
      illuminance: {unit: lx, mqtt: *ms}
      co2: {unit: ppm, mqtt: *ms}
      temperature: {unit: °C, mqtt: *ms}
      humidity: {unit: "%", mqtt: *ms}
    actuators:
      lights: {type: switch, default: off, mqtt: {topic: "zigbee2mqtt/{building}-{room}-light"}}
      ventilation:
        type: level
        default: 0
        mqtt: {topic: "zigbee2mqtt/{building}-{room}-fan", key: percentage}
buildings:
  - id: main
    rooms:
      - {id: r101..r102, kind: classroom}
  - id: annex
    rooms:
      - {id: r201, kind: classroom}
"""

T0 = 1_795_000_000.0
"""A fixed, recent moment (2026-11-18) for the points the tests write."""


@contextlib.asynccontextmanager
async def recording(
    campus: Campus, settings: HistorySettings, start: float = T0
) -> AsyncIterator[tuple[Controller, Historian, VirtualClock]]:
    """A controller without drivers or rules, with the historian started on its bus.

    Tests feed it through the controller's own entry points (`handle`, `send`, `bus.emit`), so
    what reaches InfluxDB took the path real events take. The engine never leaves its start-up
    settle, so only the test's own commands are sent.
    """
    clock = VirtualClock(start)
    controller = Controller(campus, RuleSet(), [], clock, settle=1e9)
    historian = Historian(settings)
    await historian.start(controller)
    try:
        yield controller, historian, clock
    finally:
        await historian.stop()


async def settled(historian: Historian, what: str = "the writer to send everything") -> None:
    """Wait (with a deadline) until every event submitted so far is written or refused."""
    writer = historian.writer
    assert writer is not None
    await wait_for(lambda: writer.idle, what)
