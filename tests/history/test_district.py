"""examples/grafana/district.json on two simulated schools, each with its own Mosquitto,
simulated devices and controller (the demo campus under two site ids; south as two shards),
all recording to one InfluxDB 1.6.7. Every panel's InfluxQL must rank and show the schools as
their KPI messages said (those the controllers put on their buses and published), over two
school mornings."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from campus import wire
from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from campus.model import Campus
from controller.history.changes import ChangeFilter
from controller.history.schema import Schema
from controller.history.settings import HistoryOptions
from controller.service import ServiceOptions, build_controller
from controller.shard import prepare
from rules.loader import load_rules
from simulators.mqtt import SimulatorRunner
from simulators.world import Conditions, World
from tests.controlplane.harness import PlaneClient
from tests.history import grafana
from tests.support.influx import InfluxV1
from tests.support.mosquitto import Broker, running_mosquitto
from tests.support.waiting import wait_for_blocking

pytestmark = [pytest.mark.influxdb, pytest.mark.mqtt]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ZONE = "Europe/Oslo"
MORNINGS = ("2026-11-23 08:35", "2026-11-24 08:35")
"""A Monday and a Tuesday: the end of the first lesson (08:15-09:00) and the break after it,
outside the timetable."""
MINUTES = 35
SPEED = 600.0


@dataclass(frozen=True)
class School:
    site: str
    seed: int
    outdoor_co2: float
    shards: tuple[str, ...] = ("",)
    """``--shard`` of each of its controllers ("": one controller for the whole site)."""


SCHOOLS = (
    School("north", 3, 420.0),
    School("south", 5, 800.0, shards=("main", "science,library")),
)
"""south's outdoor air is poorer (a busy road), so its rooms pass 1000 ppm within the lesson
and the schools' compliance differs."""

ABSENT = wire.KpiMessage(
    site="west", shard="", ts=parse_start("2026-11-23 09:30", ZONE), day="2026-11-23", rooms=10,
    area_m2=639.0, rooms_in_use=0, occupied_minutes=200, co2_minutes=200,
    co2_within_1000_minutes=199, co2_within_1400_minutes=200, co2_within_1000=0.995,
    co2_within_1400=1.0, worst_room=None, worst_co2=None, temperature_minutes=200,
    temperature_comfort_minutes=200, temperature_comfort=1.0, alarms={},
    alarms_unacknowledged=0, overrides=0, overrides_over_4h=0, lights_kwh=1.5,
    ventilation_kwh=0.25, outside_timetable_kwh=0.0, lights_kwh_last_week=None,
    ventilation_kwh_last_week=None, uptime_s=4500.0,
)  # fmt: skip
"""A third school whose controller was off on the Tuesday (the best air on the Monday): in the
ranking over the range, not in today's."""

Key = tuple[str, str]
"""(site, shard name)."""
Kpis = dict[Key, list[wire.KpiMessage]]
K = TypeVar("K")


def test_the_district_dashboard_shows_the_schools_as_their_kpis_said(
    influx1: InfluxV1, tmp_path: Path
) -> None:
    influx1.create_database("district")
    token = tmp_path / "influx-token"
    token.write_text(influx1.token)
    token.chmod(0o600)

    def history(name: str) -> HistoryOptions:
        """One InfluxDB for the district; each controller its own spool."""
        return HistoryOptions(
            url=influx1.url, api_version=1, bucket="district", token_file=token,
            spool=tmp_path / f"spool-{name}.sqlite",
        )  # fmt: skip

    campuses = {s.site: school_campus(s.site, tmp_path) for s in SCHOOLS}
    on_bus: Kpis = {}
    with contextlib.ExitStack() as stack:
        brokers = {
            s.site: stack.enter_context(running_mosquitto(tmp_path / f"mosquitto-{s.site}"))
            for s in SCHOOLS
        }
        clients = {s.site: PlaneClient(brokers[s.site], s.site) for s in SCHOOLS}
        for client in clients.values():
            stack.callback(client.close)
        ends = [
            asyncio.run(morning(start, campuses, brokers, history, on_bus)) for start in MORNINGS
        ]

        def published() -> Kpis:
            return {
                (site, shard): [
                    wire.decode(wire.KpiMessage, data)
                    for data in clients[site].on(f"kpi/{shard}" if shard else "kpi")
                ]
                for site, shard in on_bus
            }

        wait_for_blocking(
            lambda: all(ms[-1] in published()[key] for key, ms in on_bus.items() if ms),
            "the brokers to carry the last KPI messages",
            10,
        )
    said = dict(on_bus)
    for key, messages in published().items():
        # A minute counted before the controller's first connection goes to the historian only.
        assert messages == [m for m in said[key] if m in messages], key
    said[(ABSENT.site, "")] = [ABSENT]
    record(influx1, ABSENT, school_campus(ABSENT.site, tmp_path))
    sites = sorted({site for site, _ in said})
    start, end = parse_start(MORNINGS[0], ZONE) - 3600, ends[-1]

    for (site, shard), messages in said.items():
        assert len(messages) >= MINUTES or site == ABSENT.site, f"{site} {shard}: too few KPIs"
        recorded = influx1.rows(
            f'SELECT "rooms" FROM "kpi" WHERE "site" = \'{site}\' AND "shard" = \'{shard}\'',
            "district",
        )
        assert [r["time"] / 1e6 for r in recorded] == [m.ts for m in messages], (site, shard)
    assert_every_series_names_its_site(influx1)

    latest = {site: merged(said, site, lambda ms: {"": ms[-1]})[""] for site in sites}
    today = {site: m for site, m in latest.items() if m.day == latest["north"].day}
    days = {site: merged(said, site, day_ends) for site in sites}
    assert sorted(today) == sorted(campuses), "the absent school has no figures today"
    assert all(len(days[site]) == 2 for site in campuses), "both mornings of both schools"
    assert len({m.co2_within_1000 for m in today.values()}) == 2, "the schools tie: no ranking"
    assert any(m.outside_timetable_kwh > 0 for m in today.values()), "no energy after the lesson"

    dashboard = grafana.load(grafana.DISTRICT)
    panels = grafana.panels(dashboard)

    def show(title: str, site: str = "", interval: str = "5m") -> list[dict[str, Any]]:
        values = {"site": site, "timezone": ZONE}
        return grafana.run_panel(
            influx1, "district", panels[title], end=end, span=end - start, values=values,
            interval=interval, zone=ZONE,
        )  # fmt: skip

    def ranking(
        title: str, schools: Iterable[str], higher_is_better: bool, figures: dict[str, Figure]
    ) -> None:
        """The panel's rows, in the order Grafana's table shows them, are the `schools` best
        first by the first figure, each with the figures its messages gave."""
        first = next(iter(figures))
        want = sorted(schools, key=figures[first], reverse=higher_is_better)
        rows = grafana.sort_rows(panels[title], show(title))
        assert [row["site"] for row in rows] == want, title
        for row in rows:
            site = row["site"]
            expected = {column: f(site) for column, f in figures.items()}
            assert {column: row[column] for column in figures} == pytest.approx(expected), title

    ranking(
        "CO2 compliance today",
        today,
        True,
        {"within 1000 ppm": lambda s: known(today[s].co2_within_1000),
         "within 1400 ppm": lambda s: known(today[s].co2_within_1400)},
    )  # fmt: skip
    ranking(
        "CO2 compliance over the range",
        sites,
        True,
        {"within 1000 ppm": lambda s: share(days[s].values(), "co2_within_1000_minutes"),
         "within 1400 ppm": lambda s: share(days[s].values(), "co2_within_1400_minutes")},
    )  # fmt: skip
    ranking("Energy per m² today", today, False, {"kWh per m²": lambda s: per_m2(today[s])})
    ranking(
        "Out-of-hours energy today",
        today,
        False,
        {"kWh outside the timetable": lambda s: today[s].outside_timetable_kwh},
    )

    for site in sites:
        buckets = merged(said, site, lambda ms: bucket_ends(ms, 300))
        assert columns(show("CO2 compliance of $site", site), *SHARES) == {
            t: approx(shares(m)) for t, m in buckets.items() if m.co2_minutes
        }, site
        assert columns(show("Energy of $site", site), *ENERGY) == {
            t: approx((m.lights_kwh, m.ventilation_kwh, m.outside_timetable_kwh))
            for t, m in buckets.items()
        }, site
        by_day = {midnight(day): m for day, m in days[site].items()}
        assert columns(show("CO2 compliance of $site by day", site, "1d"), *SHARES) == {
            t: approx(shares(m)) for t, m in by_day.items()
        }, site
        per_day = columns(show("Energy per m² of $site by day", site, "1d"), *ENERGY_PER_M2)
        assert per_day == {
            t: approx((per_m2(m), m.outside_timetable_kwh / m.area_m2)) for t, m in by_day.items()
        }, site

    variable = grafana.render(grafana.variables(dashboard)["site"], start, end, {}, "5m")
    listed = influx1.query(variable, "district")[0]["series"][0]["values"]
    assert sorted(v[1] for v in listed) == sites


Figure = Callable[[str], float]
SHARES = ("within 1000 ppm", "within 1400 ppm")
ENERGY = ("lights", "ventilation", "outside the timetable")
ENERGY_PER_M2 = ("kWh per m²", "outside the timetable")


def merged(
    said: Kpis, site: str, pick: Callable[[list[wire.KpiMessage]], dict[K, wire.KpiMessage]]
) -> dict[K, wire.KpiMessage]:
    """The site's figures by key: each shard's message that `pick` chose for the key, merged
    over the shards as readers do (wire.merge_kpis)."""
    picked = [pick(messages) for (s, _), messages in said.items() if s == site]
    keys = sorted({key for p in picked for key in p}, key=str)
    out: dict[K, wire.KpiMessage] = {}
    for key in keys:
        message = wire.merge_kpis([p[key] for p in picked if key in p])
        assert message is not None
        out[key] = message
    return out


def shares(m: wire.KpiMessage) -> tuple[float, float]:
    return m.co2_within_1000_minutes / m.co2_minutes, m.co2_within_1400_minutes / m.co2_minutes


def share(days: Iterable[wire.KpiMessage], name: str) -> float:
    """Days added up: `name`'s minutes of every day over their CO2 minutes."""
    days = list(days)
    return float(sum(getattr(m, name) for m in days) / sum(m.co2_minutes for m in days))


def known(value: float | None) -> float:
    assert value is not None, "a share of no minutes"
    return value


def per_m2(m: wire.KpiMessage) -> float:
    return (m.lights_kwh + m.ventilation_kwh) / m.area_m2


def midnight(day: str) -> float:
    """The start of `day` (``2026-11-24``) in the schools' time zone."""
    return datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(ZONE)).timestamp()


def day_ends(messages: list[wire.KpiMessage]) -> dict[str, wire.KpiMessage]:
    """Each day's last message: its final figures."""
    return {m.day: m for m in messages}


def bucket_ends(messages: list[wire.KpiMessage], seconds: int) -> dict[float, wire.KpiMessage]:
    """The last message of each `seconds`-long bucket of time, by the bucket's start."""
    return {m.ts // seconds * seconds: m for m in messages}


def columns(rows: list[dict[str, Any]], *names: str) -> dict[float, tuple[Any, ...]]:
    """A graph's points with a value: time -> the `names` columns."""
    return {
        row["time"]: tuple(row[n] for n in names)
        for row in rows
        if any(row[n] is not None for n in names)
    }


def approx(values: tuple[float, ...]) -> Any:
    return pytest.approx(values, rel=1e-9)


def assert_every_series_names_its_site(influx: InfluxV1) -> None:
    """Every series of every measurement the schools wrote carries its school's site tag."""
    keys = [v[0] for v in influx.query("SHOW SERIES", "district")[0]["series"][0]["values"]]
    measurements = {key.split(",", 1)[0] for key in keys}
    assert {"kpi", "co2", "occupancy", "lights", "command", "rule"} <= measurements
    tags = {f"site={s.site}" for s in SCHOOLS} | {f"site={ABSENT.site}"}
    missing = [key for key in keys if not tags & set(key.split(",")[1:])]
    assert not missing, f"series without a school's site tag: {missing[:5]}"


def record(influx: InfluxV1, message: wire.KpiMessage, campus: Campus) -> None:
    """`message` written as its school's historian writes it."""
    line = Schema(campus, ChangeFilter(300, {})).line(message)
    assert line is not None
    auth = (influx.user, influx.password)
    status, body = influx.http("POST", "/write?db=district&precision=u", line, auth=auth)
    assert status == 204, body


def school_campus(site: str, folder: Path) -> Campus:
    """The demo campus under another site id."""
    path = folder / f"campus-{site}.yaml"
    path.write_text((EXAMPLES / "campus.yaml").read_text().replace("id: demo", f"id: {site}", 1))
    campus = load_campus(path)
    assert campus.site.id == site
    return campus


async def morning(
    start_text: str,
    campuses: dict[str, Campus],
    brokers: dict[str, Broker],
    history: Callable[[str], HistoryOptions],
    on_bus: Kpis,
) -> float:
    """Every school's controllers and devices for `MINUTES` minutes of a clock from
    `start_text`; the KPI messages put on their buses go to `on_bus`. Returns the clock's end."""
    start = parse_start(start_text, ZONE)
    clock = ScaledClock(start, SPEED)
    controllers, simulators = [], []
    for school in SCHOOLS:
        whole, broker = campuses[school.site], brokers[school.site]
        ruleset = load_rules([EXAMPLES / "rules"], whole)
        for text in school.shards:
            campus, rules, shard = whole, ruleset, None
            if text:
                shard, campus, rules = prepare(text, whole, ruleset)
            name = f"{school.site}-{shard.name}" if shard else school.site
            options = ServiceOptions(
                broker_url=broker.url, client_id=f"district-{name}", watch_rules=0,
                history=history(name), shard=shard,
            )  # fmt: skip
            controller = build_controller(campus, rules, clock, options)
            messages = on_bus.setdefault((school.site, shard.name if shard else ""), [])
            controller.bus.subscribe(wire.KpiMessage, messages.append)
            controllers.append(asyncio.create_task(controller.run()))
        conditions = Conditions(outdoor_co2=school.outdoor_co2)
        world = World(whole, school.seed, start, conditions=conditions)
        simulators.append(SimulatorRunner(world, clock, parse_broker_url(broker.url), step=5.0))
    tasks = [*controllers, *(asyncio.create_task(s.run()) for s in simulators)]
    until = start + MINUTES * 60
    deadline = time.monotonic() + MINUTES * 60 / SPEED * 4 + 30
    try:
        while clock.now() < until:
            assert time.monotonic() < deadline, "the morning did not finish in time"
            for task in tasks:
                if task.done():
                    task.result()
            await asyncio.sleep(0.05)
    finally:
        for simulator in simulators:
            simulator.stop()
        for task in controllers:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return clock.now()
