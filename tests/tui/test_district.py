"""The district view driven by Textual's pilot on real brokers: the fixed district on one broker
(rows, sorting by key and by header, drill-in and back, opening by itself when several sites are
on the broker, only what changed on screen written to the tables), and two running schools
bridged to a district broker (an alarm acknowledged from the district list and an override
placed after drilling in reach the owning school, with the TUI's user)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.strip import Strip
from textual.widgets import DataTable

from campus import wire
from campus.brokerurl import parse_broker_url
from controller.district import bridge_config
from tests.controlplane.harness import RunningCampus, running_campus, unique_site
from tests.support.aio import run_async
from tests.support.mosquitto import Broker, running_mosquitto
from tests.tui.fixed_district import district_retained, kpi, publish_district
from tests.tui.fixed_site import NOW, SITE, publish
from tests.tui.test_pilot import USER, open_room, rows, showing, until
from tui.app import CampusApp
from tui.district import DistrictState
from tui.options import TuiOptions
from tui.screens.alarms import AlarmsScreen
from tui.screens.district import DistrictScreen
from tui.screens.overview import OverviewScreen
from tui.screens.room import RoomScreen
from tui.widgets.columns import CELL_PADDING
from tui.widgets.rowtable import RowTable

pytestmark = pytest.mark.tui


def district_app(url: str, *, district: bool = True) -> CampusApp:
    return CampusApp(TuiOptions(parse_broker_url(url), district=district, user=USER))


@run_async
async def test_schools_sorted_by_key_and_header_drilled_into_and_back(
    fresh_broker: Broker,
) -> None:
    publish_district(fresh_broker)
    app = district_app(fresh_broker.url)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: showing(app, DistrictScreen), "the district view")
        await until(pilot, lambda: len(rows(app, "#schools")) == 3, "three schools")
        # each school's messages arrive on their own: wait for all that the view is built from
        await until(
            pilot,
            lambda: len(rows(app, "#district-alarms")) == 3,
            "the alarms of both schools with any",
        )
        await until(
            pilot,
            lambda: rows(app, "#schools") == ["south", SITE, "north"],
            "worst CO2 compliance first",
        )
        screen = app.screen
        assert isinstance(screen, DistrictScreen)
        table = screen.query_one("#schools", RowTable)

        def style(school: str) -> str:
            return str(table.cells(school)["school"].style)

        await until(
            pilot,
            lambda: "bold red" in style("south") and "bold red" in style("north"),
            "south (offline, 72 %) and north (its link down) marked",
        )
        assert "red" not in style(SITE)

        await pilot.press("s")  # the next column shown: comfort (100 columns), equal for all
        assert screen.sort == "comfort"
        await pilot.press("s", "s")  # worst room: the highest CO2 now first
        assert screen.sort == "alarms"
        assert rows(app, "#schools")[0] == SITE
        await pilot.press("r")
        assert rows(app, "#schools")[-1] == SITE
        labels = table.labels
        x = sum(width + CELL_PADDING for _, width in table.columns[: labels.index("rooms")])
        await pilot.click("#schools", offset=(x + 2, 0))
        assert screen.sort == "rooms", "a click on a header sorts by it"
        assert rows(app, "#schools") == ["south", SITE, "north"], "the most rooms first"
        await pilot.click("#schools", offset=(x + 2, 0))
        assert rows(app, "#schools") == ["north", SITE, "south"], "a second click reverses"

        table.move_cursor(rows(app, "#schools").index(SITE))
        await pilot.press("enter")
        await until(pilot, lambda: showing(app, OverviewScreen), "the school's rooms")
        await until(pilot, lambda: len(rows(app, "#rooms")) == 10, "the school's rooms")
        assert app.state.site == SITE
        room = await open_room(pilot, app, "main.r102")
        assert room.room_id == "main.r102"
        await pilot.press("escape")
        await until(pilot, lambda: showing(app, OverviewScreen), "back to the rooms")
        await pilot.press("escape", "escape")  # the search, then back to the district
        await until(pilot, lambda: showing(app, DistrictScreen), "back to the district")
        await pilot.press("2")
        await until(pilot, lambda: showing(app, AlarmsScreen), "the school's alarms")
        await pilot.press("0")
        await until(pilot, lambda: showing(app, DistrictScreen), "the district on 0")

        table.move_cursor(rows(app, "#schools").index("south"))
        await pilot.press("enter")
        await until(pilot, lambda: showing(app, OverviewScreen), "the other school")
        assert app.state.site == "south"
        assert rows(app, "#rooms") == [], "no room of the last school, no search kept"


@run_async
async def test_several_sites_on_the_broker_open_the_district_view(fresh_broker: Broker) -> None:
    publish_district(fresh_broker)
    app = district_app(fresh_broker.url, district=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: showing(app, DistrictScreen), "the district view by itself")
        await until(pilot, lambda: len(rows(app, "#schools")) == 3, "three schools")


@run_async
async def test_only_what_changed_on_screen_is_written_to_the_tables(
    fresh_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An online school's heartbeat (its controller message again, only its clock on) is
    redrawn without a write to the alarm list and without drawing a school's row; a new figure
    draws its school's row, nothing else; a new figure in the sort column re-orders the rows
    (drawing only the changed one), the cursor staying on its school; a sort key draws none."""
    publish_district(fresh_broker)
    app = district_app(fresh_broker.url)
    app.district = DistrictState(monotonic=lambda: 1000.0)  # north's "down for" stays still
    async with app.run_test(size=(160, 50)) as pilot:
        schools = app.district.schools
        await until(
            pilot,
            lambda: len(schools) == 3 and all(s.kpi and s.alarm_lists for s in schools.values()),
            "the fixed district",
        )
        await until(pilot, lambda: len(rows(app, "#district-alarms")) == 3, "the alarms drawn")
        screen = app.screen
        assert isinstance(screen, DistrictScreen)
        table = screen.query_one("#schools", RowTable)
        # the cursor stays on the school it was on, which the order of arrival decided
        table.move_cursor(table.keys.index("south"))
        await pilot.pause(0.5)  # a refresh or two: everything that came is drawn
        writes: list[tuple[str, ...]] = []  # each write to the alarm list: method, row, column
        drawn: list[tuple[str, bool]] = []  # each school's row drawn: its key, under the cursor
        redraws: list[frozenset[wire.Kind]] = []

        def counted(name: str, write: Callable[..., Any]) -> Callable[..., Any]:
            def counting(*args: Any, **kwargs: Any) -> Any:
                writes.append((name, *(str(getattr(a, "value", a)) for a in args[:2])))
                return write(*args, **kwargs)

            return counting

        def redraw(kinds: frozenset[wire.Kind], draw: Callable[..., None] = screen.redraw) -> None:
            redraws.append(kinds)
            draw(kinds)

        draw_row = table.draw_row

        def draw_counted(cells: Mapping[str, Text], *, cursor: bool) -> Strip:
            drawn.append((next(k for k in table.keys if table.cells(k) is cells), cursor))
            return draw_row(cells, cursor=cursor)

        alarms = screen.query_one("#district-alarms", DataTable)
        for name in ("clear", "add_row", "remove_row", "update_cell", "sort"):
            monkeypatch.setattr(alarms, name, counted(name, getattr(alarms, name)))
        monkeypatch.setattr(table, "draw_row", draw_counted)
        monkeypatch.setattr(screen, "redraw", redraw)

        topic = f"campusctl/{SITE}"
        heartbeat = {**district_retained()[f"{topic}/controller"], "now": NOW + 5}
        publish(fresh_broker, {f"{topic}/controller": heartbeat}, retain=False)
        await until(pilot, lambda: _now(schools[SITE].controller) == NOW + 5, "the heartbeat")
        await until(pilot, lambda: any(wire.Kind.CONTROLLER in k for k in redraws), "its redraw")
        await pilot.pause(0.3)
        assert writes == [], "nothing shown changed: the alarm list not written"
        assert drawn == [], "nothing shown changed: no school's row drawn"

        assert table.cursor_key == "south"
        in_use = kpi(SITE, 10, 7, 0.91, 12.4)  # 7 rooms in use (6 before), the same order
        publish(fresh_broker, {f"{topic}/kpi": in_use}, retain=False)
        await until(pilot, lambda: drawn, "the new figure drawn")
        await pilot.pause(0.3)
        assert drawn == [(SITE, False)], "its own row only"
        assert writes == []
        assert rows(app, "#schools") == ["south", SITE, "north"]
        assert str(table.cells(SITE)["in use"]) == "7"

        drawn.clear()
        worst = kpi(SITE, 10, 7, 0.6, 12.4)  # CO2 <= 1000 ppm 60 % of the time: now the worst
        publish(fresh_broker, {f"{topic}/kpi": worst}, retain=False)
        await until(pilot, lambda: rows(app, "#schools")[0] == SITE, "the new order")
        await pilot.pause(0.3)
        assert rows(app, "#schools") == [SITE, "south", "north"]
        assert table.cursor_key == "south", "the cursor stays on its school"
        assert drawn == [(SITE, False)], "the rows moved, only the changed one drawn"
        assert str(table.cells(SITE)["CO2≤1000"]) == "60%"

        drawn.clear()
        for key in ("s", "r", "s"):  # comfort, reversed, worst room: only the order changes
            await pilot.press(key)
            await pilot.pause()
            assert rows(app, "#schools") == [school.site for school in screen.shown()]
            assert drawn == [], f"{key}: no row drawn"
            assert table.cursor_key == "south"
        assert writes == []
        assert screen.sort == "worst room"
        assert rows(app, "#schools") == ["south", SITE, "north"], "the highest CO2 first"


def _now(controller: wire.ControllerMessage | None) -> float | None:
    return controller.now if controller is not None else None


@contextlib.asynccontextmanager
async def district_of_two(tmp_path: Path) -> AsyncIterator[tuple[Broker, list[RunningCampus]]]:
    """Two running schools, each on its own Mosquitto bridged to one district Mosquitto."""
    async with contextlib.AsyncExitStack() as stack:
        district = stack.enter_context(running_mosquitto(tmp_path / "district"))
        campuses = []
        for name in ("east", "west"):
            site = unique_site(name)
            bridge = bridge_config(site, parse_broker_url(district.url))
            (tmp_path / name).mkdir()
            school = stack.enter_context(running_mosquitto(tmp_path / site, extra=bridge))
            campuses.append(
                await stack.enter_async_context(running_campus(school, tmp_path / name, site=site))
            )
        yield district, campuses


@run_async
async def test_from_the_district_an_ack_and_an_override_reach_the_owning_school(
    tmp_path: Path,
) -> None:
    async with district_of_two(tmp_path) as (district, (east, west)):
        app = district_app(district.url)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: len(rows(app, "#schools")) == 2, "two schools")
            assert set(rows(app, "#schools")) == {east.site, west.site}

            def west_alarms() -> list[str]:
                return [k for k in rows(app, "#district-alarms") if k.startswith(west.site)]

            await until(pilot, west_alarms, "an alarm of the west school in the list")
            key = west_alarms()[0]
            alarm_id = key.split(" ", 1)[1]
            table = app.screen.query_one("#district-alarms", DataTable)
            table.focus()
            table.move_cursor(row=rows(app, "#district-alarms").index(key))
            await pilot.press("a")

            def acknowledged_by() -> str | None:
                alarm = west.controller.engine.alarm(alarm_id)
                return alarm.acknowledged_by if alarm is not None else None

            await until(pilot, lambda: acknowledged_by() == USER, "the west school's ack")
            same = east.controller.engine.alarm(alarm_id)
            assert same is None or same.acknowledged_by is None, "the other school's untouched"

            schools = app.screen.query_one("#schools", RowTable)
            schools.focus()
            schools.move_cursor(rows(app, "#schools").index(west.site))
            await pilot.press("enter")
            await until(pilot, lambda: showing(app, OverviewScreen), "the west school's rooms")
            await until(pilot, lambda: len(app.state.room_states) == 10, "its rooms")
            await until(pilot, lambda: west.controller.engine.started, "the settle")
            await open_room(pilot, app, "main.r103")
            await pilot.press("o")
            await until(pilot, lambda: type(app.screen).__name__ == "OverrideDialog", "dialog")
            await pilot.press("3", "enter")  # on (proposed) for an hour
            await until(
                pilot,
                lambda: west.controller.engine.has_override("main.r103.lights"),
                "the override in the west school",
            )
            assert not east.controller.engine.has_override("main.r103.lights")
            await until(
                pilot,
                lambda: any(
                    isinstance(e, wire.AuditEvent) and e.who == USER and e.action == "override"
                    for e in app.state.events
                ),
                "the override's audit with the user, from the west school",
            )
            assert showing(app, RoomScreen)
