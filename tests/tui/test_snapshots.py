"""Snapshots of the main screens at 80x24, drawn from a fixed site on a real broker.

`pytest tests/tui --snapshot-update` rewrites them after a deliberate change of the screens;
look at the report (snapshot_report.html) before committing new ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from campus.brokerurl import parse_broker_url
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for
from tests.tui.fixed_site import EVENTS, SITE, publish_events, publish_site
from tui.app import CampusApp
from tui.options import TuiOptions

pytestmark = pytest.mark.tui

SIZE = (80, 24)
SnapCompare = Callable[..., bool]


@pytest.fixture
def app(broker: Broker) -> CampusApp:
    publish_site(broker)
    return CampusApp(TuiOptions(parse_broker_url(broker.url), site=SITE, user="alice"))


async def until(pilot: Pilot[Any], condition: Callable[[], object], what: str) -> None:
    await wait_for(condition, what, 10)
    await pilot.pause(0.3)


def loaded(app: CampusApp) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def wait(pilot: Pilot[Any]) -> None:
        state = app.state
        await until(
            pilot,
            lambda: len(state.room_states) == 10 and state.alarms and state.rules and state.online,
            "the fixed site",
        )

    return wait


def test_overview(snap_compare: SnapCompare, app: CampusApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=loaded(app))


def test_room_with_an_override(snap_compare: SnapCompare, app: CampusApp) -> None:
    async def open_r102(pilot: Pilot[Any]) -> None:
        await loaded(app)(pilot)
        await pilot.press("slash", *"r102", "enter", "enter")
        await until(pilot, lambda: type(app.screen).__name__ == "RoomScreen", "the room")

    assert snap_compare(app, terminal_size=SIZE, run_before=open_r102)


def test_override_dialog(snap_compare: SnapCompare, app: CampusApp) -> None:
    async def dialog(pilot: Pilot[Any]) -> None:
        await loaded(app)(pilot)
        await pilot.press("slash", *"r103", "enter", "enter")
        await until(pilot, lambda: type(app.screen).__name__ == "RoomScreen", "the room")
        await pilot.press("o")
        await until(pilot, lambda: type(app.screen).__name__ == "OverrideDialog", "the dialog")

    assert snap_compare(app, terminal_size=SIZE, run_before=dialog)


def test_alarms(snap_compare: SnapCompare, app: CampusApp) -> None:
    async def alarms(pilot: Pilot[Any]) -> None:
        await loaded(app)(pilot)
        await pilot.press("2")

    assert snap_compare(app, terminal_size=SIZE, run_before=alarms)


def test_rules(snap_compare: SnapCompare, app: CampusApp) -> None:
    async def rules(pilot: Pilot[Any]) -> None:
        await loaded(app)(pilot)
        await pilot.press("3")

    assert snap_compare(app, terminal_size=SIZE, run_before=rules)


def test_events(snap_compare: SnapCompare, app: CampusApp, broker: Broker) -> None:
    async def events(pilot: Pilot[Any]) -> None:
        await loaded(app)(pilot)
        await pilot.press("4")
        await pilot.pause(0.3)
        await asyncio.to_thread(publish_events, broker)
        await until(pilot, lambda: len(app.state.events) >= len(EVENTS), "the events")

    assert snap_compare(app, terminal_size=SIZE, run_before=events)
