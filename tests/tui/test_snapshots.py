"""Snapshots of the main screens at 80x24 (the smallest they are laid out for) and 160x50 (the
columns grow, wide-only columns appear), drawn from a fixed site on a real broker.

`pytest tests/tui --snapshot-update` rewrites them after a deliberate change of the screens;
look at the report (snapshot_report.html) before committing new ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from campus.brokerurl import parse_broker_url
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for
from tests.tui.fixed_district import publish_district
from tests.tui.fixed_site import EVENTS, SITE, answering, publish_events, publish_site
from tui.app import CampusApp
from tui.district import DistrictState
from tui.options import TuiOptions
from tui.screens.room import RoomScreen
from tui.widgets.rowtable import RowTable

pytestmark = pytest.mark.tui

SnapCompare = Callable[..., bool]


@pytest.fixture(params=[(80, 24), (160, 50)], ids=lambda size: f"{size[0]}x{size[1]}")
def size(request: pytest.FixtureRequest) -> tuple[int, int]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def app(broker: Broker) -> Iterator[CampusApp]:
    publish_site(broker)
    with answering(broker):
        yield CampusApp(TuiOptions(parse_broker_url(broker.url), site=SITE, user="alice"))


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


async def open_room(pilot: Pilot[Any], app: CampusApp, room: str) -> None:
    await loaded(app)(pilot)
    await pilot.press("slash", *room, "enter", "enter")
    await until(pilot, lambda: isinstance(app.screen, RoomScreen), "the room")
    screen = app.screen
    assert isinstance(screen, RoomScreen)
    await until(pilot, lambda: screen.trends, "the room's last hour")


def test_overview(snap_compare: SnapCompare, app: CampusApp, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=loaded(app))


def test_room_with_an_override(
    snap_compare: SnapCompare, app: CampusApp, size: tuple[int, int]
) -> None:
    """Its sparklines, occupancy as on/off bands; the override's expiry not cut."""

    async def open_r102(pilot: Pilot[Any]) -> None:
        await open_room(pilot, app, "r102")

    assert snap_compare(app, terminal_size=size, run_before=open_r102)


def test_override_dialog(snap_compare: SnapCompare, app: CampusApp, size: tuple[int, int]) -> None:
    async def dialog(pilot: Pilot[Any]) -> None:
        await open_room(pilot, app, "r103")
        await pilot.press("o")
        await until(pilot, lambda: type(app.screen).__name__ == "OverrideDialog", "the dialog")

    assert snap_compare(app, terminal_size=size, run_before=dialog)


def test_alarms(snap_compare: SnapCompare, app: CampusApp, size: tuple[int, int]) -> None:
    async def alarms(pilot: Pilot[Any]) -> None:
        await loaded(app)(pilot)
        await pilot.press("2")

    assert snap_compare(app, terminal_size=size, run_before=alarms)


def test_rules(snap_compare: SnapCompare, app: CampusApp, size: tuple[int, int]) -> None:
    """co2-alarm only raises an alarm: its level reads "alarm", not "comfort"."""

    async def rules(pilot: Pilot[Any]) -> None:
        await loaded(app)(pilot)
        await pilot.press("3")

    assert snap_compare(app, terminal_size=size, run_before=rules)


def test_events(
    snap_compare: SnapCompare, app: CampusApp, broker: Broker, size: tuple[int, int]
) -> None:
    """The recent events fetched on opening and the same events seen live: each once."""

    async def events(pilot: Pilot[Any]) -> None:
        await loaded(app)(pilot)
        await pilot.press("4")
        await until(pilot, lambda: len(app.state.events) >= len(EVENTS), "the fetched events")
        await asyncio.to_thread(publish_events, broker)
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=size, run_before=events)


def test_district(snap_compare: SnapCompare, fresh_broker: Broker, size: tuple[int, int]) -> None:
    """Three schools, the worst first; the one with its link down and the one offline at 72 %
    marked; the alarms of all three."""
    publish_district(fresh_broker)
    app = CampusApp(TuiOptions(parse_broker_url(fresh_broker.url), district=True, user="alice"))
    app.district = DistrictState(monotonic=lambda: 1000.0)  # the link's "down for" stays still

    async def district(pilot: Pilot[Any]) -> None:
        schools = app.district.schools
        await until(
            pilot,
            lambda: len(schools) == 3 and all(s.kpi and s.alarm_lists for s in schools.values()),
            "the fixed district",
        )
        # the cursor stays with its school while rows re-sort, so it would sit on whichever
        # school's messages came first: put it on the worst, as the view opens for staff
        app.screen.query_one("#schools", RowTable).move_cursor(row=0)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=district)
