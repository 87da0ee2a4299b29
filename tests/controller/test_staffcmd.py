"""`campusctl override | release | ack | status` and `rules explain` against a running controller
on a real Mosquitto: `main([...])` as a shell would run it, each verb's answer and refusals,
and finding the controller with `--broker`, from the broker's retained messages, or by mDNS."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from campus import wire
from campus.problems import CampusError
from controller.cli import main
from controller.controlclient import Advertised, Site, choose_advertised, choose_site
from controller.discovery import DiscoveryExtension
from controller.staffcmd import request_value
from tests.controlplane.harness import (
    ROOT,
    PlaneClient,
    RunningCampus,
    running_campus,
    unique_site,
)
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

LIGHT = "main.r101.lights"


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`campusctl ARGS` in a thread (it blocks on MQTT): exit code, stdout, stderr."""
    code = await asyncio.to_thread(main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


def audits(campus: RunningCampus) -> list[wire.AuditEvent]:
    return [e for e in campus.plane.recent.events(500) if isinstance(e, wire.AuditEvent)]


@pytest.mark.mqtt
@run_async
async def test_override_for_a_while_with_a_reason_shows_in_status_and_release_ends_it(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = unique_site()
    watcher = PlaneClient(broker, site)
    async with running_campus(broker, tmp_path, site=site, alarms=False) as campus:
        where = ("--broker", broker.url, "--site", site)
        await published(watcher)
        await wait_for(lambda: campus.controller.engine.started, "the end of the settle")
        code, out, err = await cli(
            capsys, "override", LIGHT, "on", "--for", "30m", "--reason", "exam in r101",
            "--user", "alice", *where,
        )  # fmt: skip
        assert code == 0, err
        assert out.startswith(f"{LIGHT} held at on until Mon 2026-11-23 08:"), out
        assert out.endswith(" CET by alice\n"), out
        assert campus.controller.engine.actuator_value(LIGHT) is True
        (audit,) = audits(campus)
        assert (audit.who, audit.action) == ("alice", "override")
        assert audit.detail.startswith(f"{LIGHT} = on for 1")
        assert audit.detail.endswith(", reason: exam in r101")

        await wait_for(lambda: held_by(watcher, "alice"), "the override in r101's retained state")
        code, out, err = await cli(capsys, "status", "main.r101", *where)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].startswith("main.r101: R101 (classroom, 28 seats), "), out
        assert "controller online" in lines[0]
        (lights,) = [line for line in lines if line.strip().startswith("lights ")]
        assert "on" in lights
        assert "by alice (override), slot 8, until 08:" in lights
        assert any("under it: off by default, slot 17" in line for line in lines), out
        assert "points:" in lines
        assert "actuators:" in lines

        code, out, err = await cli(capsys, "status", *where)
        assert code == 0, err
        assert out.startswith(f"site {campus.site}: Nordby School (demo), controller online\n")
        assert "overrides (1):\n  main.r101.lights on by alice until 08:" in out, out
        assert "alarms: none" in out

        code, out, err = await cli(capsys, "release", LIGHT, "--user", "alice", *where)
        assert (code, out) == (
            0,
            f"{LIGHT} released by alice: its rules and default decide again\n",
        )
        assert campus.controller.engine.actuator_value(LIGHT) is False
        code, out, err = await cli(capsys, "release", LIGHT, "--user", "alice", *where)
        assert code == 2
        assert err == f"campusctl: the controller refused: {LIGHT} has no override to release\n"
    watcher.close()


async def published(watcher: PlaneClient) -> None:
    """The controller's retained messages are out (they follow its connection by a moment)."""
    await wait_for(lambda: watcher.latest("controller"), "the controller's retained message")


def held_by(watcher: PlaneClient, user: str) -> bool:
    """r101's retained state (published at most once a second) shows `user`'s override."""
    state = wire.decode(wire.RoomState, watcher.latest("room/main/r101"))
    lights = state.actuators.get("lights")
    return lights is not None and lights.source == f"override:{user}"


@pytest.mark.mqtt
@run_async
async def test_override_ends_parse_on_the_controller_and_refusals_exit_2(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = unique_site()
    watcher = PlaneClient(broker, site)
    async with running_campus(broker, tmp_path, site=site, alarms=False) as campus:
        where = ("--broker", broker.url, "--site", site, "--user", "bob")
        await published(watcher)
        fan = "main.r102.ventilation"
        code, out, err = await cli(capsys, "override", fan, "40", "--until", "14:00", *where)
        assert code == 0, err
        assert out == f"{fan} held at 40 until Mon 2026-11-23 14:00 CET by bob\n"
        assert campus.controller.engine.actuator_value(fan) == 40.0
        # 07:00 has passed on the controller's clock (the test starts at 07:50): tomorrow's
        code, out, err = await cli(capsys, "override", fan, "50", "--until", "7:00", *where)
        assert code == 0, err
        assert out == f"{fan} held at 50 until Tue 2026-11-24 07:00 CET by bob\n"
        code, out, err = await cli(capsys, "override", fan, "60", "--until", "end-of-day", *where)
        assert code == 0, err
        assert out == f"{fan} held at 60 until Tue 2026-11-24 00:00 CET by bob\n"

        refusals = {
            ("main.r101.lamp", "on", "--for", "30m"): (
                "no actuator 'main.r101.lamp' in the campus (did you mean 'main.r101.lights'?)"
            ),
            (LIGHT, "on", "--for", "30x"): "duration: bad duration '30x'",
            (LIGHT, "on", "--for", "0"): "duration must be more than 0 s",
            (LIGHT, "on", "--until", "25:00"): "until '25:00' is not a time of day",
            (LIGHT, "on", "--until", "soon"): "until 'soon' is not a time",
            (LIGHT, "50", "--for", "1h"): f"{LIGHT} is a switch: give true or false",
            (fan, "150", "--for", "1h"): f"{fan}: 150 % is outside its range 0..100",
            (fan, "half", "--for", "1h"): 'value must be true/false, "on"/"off" or a number',
            (LIGHT, "on", "--for", "1h", "--reason", "a\nb"): "reason must be one line",
        }
        for args, refusal in refusals.items():
            code, out, err = await cli(capsys, "override", *args, *where)
            assert code == 2, (args, out, err)
            assert err.startswith(f"campusctl: the controller refused: {refusal}"), (args, err)
            assert out == ""
        assert campus.controller.engine.actuator_value(fan) == 60.0
    watcher.close()


@pytest.mark.mqtt
@run_async
async def test_ack_an_alarm_then_status_shows_who_and_json_has_the_wire_types(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = unique_site()
    watcher = PlaneClient(broker, site)
    async with running_campus(broker, tmp_path, site=site) as campus:
        where = ("--broker", broker.url, "--site", site)
        await wait_for(lambda: campus.controller.alarms, "an alarm")
        alarm = campus.controller.alarms[0].id
        code, out, err = await cli(capsys, "ack", alarm, "--user", "carol", *where)
        assert (code, out) == (0, f"{alarm} acknowledged by carol\n"), err
        code, out, err = await cli(capsys, "acknowledge", "nope@x.y", "--user", "carol", *where)
        assert code == 2
        assert err.startswith("campusctl: the controller refused: no alarm 'nope@x.y'"), err

        def acknowledged() -> bool:
            alarms = wire.decode(wire.AlarmsMessage, watcher.latest("alarms")).alarms
            return any(a.id == alarm and a.acknowledged_by == "carol" for a in alarms)

        await wait_for(acknowledged, "the acknowledgement in the retained alarm list")
        room = alarm.partition("@")[2]
        code, out, err = await cli(capsys, "status", room, "--json", *where)
        assert code == 0, err
        shown = json.loads(out)
        assert shown["site"] == site
        assert shown["online"] is True
        assert wire.decode(wire.RoomSpec, shown["room"]).id == room
        assert wire.decode(wire.RoomState, shown["state"]).room == room
        (listed,) = [wire.decode(wire.Alarm, a) for a in shown["alarms"]]
        assert (listed.id, listed.acknowledged_by) == (alarm, "carol")

        code, out, err = await cli(capsys, "status", room, *where)
        assert code == 0, err
        assert f"  {alarm} warning, active since " in out
        assert ", acknowledged by carol: CO2 " in out
        code, out, err = await cli(capsys, "status", "main.r1O1", *where)
        assert code == 2
        assert "no room 'main.r1O1' in site" in err
        assert "did you mean 'main.r101'?" in err
    watcher.close()


@pytest.mark.mqtt
@run_async
async def test_without_site_the_one_site_on_the_broker_is_used(
    fresh_broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await cli(capsys, "status", "--broker", fresh_broker.url, "--timeout", "2")
    assert code == 2
    assert f"no controller has published on {fresh_broker.url}: is it running" in err
    async with running_campus(fresh_broker, tmp_path, alarms=False) as campus:
        await wait_for(lambda: campus.controller.engine.started, "the end of the settle")
        code, out, err = await cli(capsys, "rules", "explain", LIGHT, "--broker", fresh_broker.url)
        assert code == 0, err
        assert out.startswith(f"{LIGHT} = off"), out
        assert err == ""
    code, out, err = await cli(capsys, "status", "--broker", fresh_broker.url)
    assert code == 0, err
    assert out.startswith(f"site {campus.site}: Nordby School (demo), controller OFFLINE\n")
    code, out, err = await cli(
        capsys, "release", LIGHT, "--broker", fresh_broker.url, "--user", "alice"
    )
    assert code == 2
    assert f"the controller of site '{campus.site}' is offline on {fresh_broker.url}" in err


@pytest.mark.mqtt
@run_async
async def test_the_controller_is_found_by_mdns_without_broker(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The controller advertises itself on loopback as `campusctl run` does; other test runs
    on this host advertise too, so the site is named (without --site, see the next test)."""
    async with running_campus(broker, tmp_path, alarms=False) as campus:
        advertising = DiscoveryExtension(broker.url)
        await advertising.start(campus.controller)
        try:
            await asyncio.wait_for(advertising.advertised.wait(), 15)
            code, out, err = await cli(
                capsys, "override", LIGHT, "on", "--for", "1h", "--site", campus.site,
                "--user", "dora",
            )  # fmt: skip
            assert code == 0, err
            assert err == (
                f"campusctl: site {campus.site} at {broker.url} "
                f"(controller {campus.site} found by mDNS)\n"
            )
            assert campus.controller.engine.actuator_value(LIGHT) is True
            code, out, err = await cli(capsys, "rules", "explain", LIGHT, "--site", campus.site)
            assert code == 0, err
            assert out.startswith(f"{LIGHT} = on"), out
        finally:
            await advertising.stop()


@contextmanager
def advertised(site: str, url: str) -> Iterator[None]:
    """A controller's advertisement from another process (tests/discovery/advertiser_child)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.discovery.advertiser_child", "controller", site, url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "advertised"
        yield
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


def test_several_controllers_found_by_mdns_need_a_site(
    capsys: pytest.CaptureFixture[str],
) -> None:
    north, south = unique_site("north"), unique_site("south")
    with advertised(north, "mqtt://127.0.0.1:1"), advertised(south, "mqtt://127.0.0.1:2"):
        code = main(["status", "--timeout", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "controllers (" in err
    assert "say which with --site SITE (or --broker URL)" in err
    assert f"site {north} at mqtt://127.0.0.1:1" in err
    assert f"site {south} at mqtt://127.0.0.1:2" in err


@pytest.mark.mqtt
def test_the_demo_prints_its_broker_and_explain_and_status_reach_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo picks a free port; `rules explain` assumed 1883 and found nothing."""
    demo = subprocess.Popen(
        [
            sys.executable, "-m", "controller.cli", "--log-level", "warning",
            "demo", "--headless", "--duration", "60", "--no-discovery",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        lines = [demo.stdout.readline() for _ in range(3)]
        (said,) = [line for line in lines if line.startswith("broker: ")]
        url = said.split()[3]
        assert url.startswith("mqtt://127.0.0.1:")
        assert f"or give them --broker {url})" in said
        explain = ["rules", "explain", LIGHT, "--broker", url]
        for _ in range(100):
            if main(explain) == 0:
                break
            time.sleep(0.1)
        out, err = capsys.readouterr()
        assert out.startswith(f"{LIGHT} = "), out + err
        for _ in range(100):  # its retained messages follow its connection by a moment
            assert main(["status", "--broker", url]) == 0
            out = capsys.readouterr().out
            if "rooms: 10, every sensor and device reporting" in out:
                break
            time.sleep(0.1)
        assert out.startswith("site demo: Nordby School (demo), controller online\nclock "), out
        assert "\nrooms: 10, every sensor and device reporting\n" in out, out
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.communicate(timeout=30)


def test_choosing_among_advertised_controllers() -> None:
    a1, a2 = Advertised("a", "mqtt://h:1"), Advertised("a", "mqtt://h:2")
    b = Advertised("b", "mqtt://h:1")
    assert choose_advertised([], None) is None
    assert choose_advertised([a1, a1], None) == a1  # two shards of one site
    assert choose_advertised([a1, b], "b") == b
    assert choose_advertised([a1, b], "c") is None
    with pytest.raises(CampusError, match=r"found 2 controllers .* --site SITE"):
        choose_advertised([a1, b], None)
    with pytest.raises(CampusError, match=r"site 'a' on 2 brokers .* --broker URL"):
        choose_advertised([a1, a2, b], "a")


def test_choosing_the_site_on_a_broker() -> None:
    up = Site("up", statuses={"campusctl/up/status": "online"})
    down = Site("down", statuses={"campusctl/down/status": "offline"})
    gone = Site("gone", statuses={"campusctl/gone/status": "offline"})
    assert choose_site({"up": up, "down": down}, "B") is up
    assert choose_site({"down": down}, "B") is down
    with pytest.raises(CampusError, match=r"2 sites are known on B \(down, gone\)"):
        choose_site({"down": down, "gone": gone}, "B")
    with pytest.raises(CampusError, match="no controller has published on B"):
        choose_site({}, "B")


def test_values_as_the_override_request_takes_them() -> None:
    assert request_value("ON") is True
    assert request_value("false") is False
    assert request_value("40") == 40.0
    assert request_value("half") == "half"


def test_every_verb_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    for verb, words in {
        "override": "Hold ACTUATOR at VALUE",
        "release": "Release the staff override",
        "ack": "Acknowledge ALARM",
        "status": "Show what the running controller retains",
    }.items():
        with pytest.raises(SystemExit) as exit:
            main([verb, "--help"])
        assert exit.value.code == 0
        out = capsys.readouterr().out
        assert words in " ".join(out.split()), out
        assert "--broker URL" in out
        assert "--site SITE" in out


def test_override_needs_a_for_or_an_until(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["override", LIGHT, "on"])
    assert exit.value.code == 2
    assert "one of the arguments --for --until is required" in capsys.readouterr().err


def test_a_broker_that_is_not_there_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ack", "co2-alarm@main.r101", "--broker", "mqtt://127.0.0.1:1", "--site", "s"])
    assert code == 2
    assert "campusctl: cannot reach the broker at mqtt://127.0.0.1:1: " in capsys.readouterr().err
