"""End to end on a real broker: a restart in the middle of a hold, an override that expires
(while running and while stopped), and a reload with a broken file."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from campus.clock import ScaledClock
from controller.events import Audit
from rules.instance import State
from tests.controller.harness import (
    LIGHT_RULES,
    SENSOR,
    START,
    Devices,
    rules_folder,
    running,
    sent,
)
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt

VENT = "main.r101.ventilation"
LIGHTS = "main.r101.lights"
HOLD_RULES = """\
rules:
  - id: stuffy
    rooms: id == "main.r101"
    when: occupancy and co2 > 1000
    for: 10m
    set:
      ventilation: 100
"""


@pytest.fixture
def devices(fresh_broker: Broker) -> Iterator[Devices]:
    client = Devices(fresh_broker)
    yield client
    client.close()


@run_async
async def test_restart_mid_hold_fires_at_the_original_time(
    fresh_broker: Broker, devices: Devices, tmp_path: Path
) -> None:
    rules, state = rules_folder(tmp_path, HOLD_RULES), tmp_path / "var" / "state.sqlite"
    clock = ScaledClock(START, speed=60.0)  # one wall second is a minute
    async with running(fresh_broker, rules, state, clock) as first:
        devices.report(SENSOR, occupancy=True, co2=1200, illuminance=400)
        await wait_for(
            lambda: first.engine.instance("stuffy", "main.r101").state is State.PENDING,
            "the hold to start",
        )
        pending_since = first.engine.instance("stuffy", "main.r101").since
        due = pending_since + 600
        await wait_for(lambda: clock.now() > pending_since + 120, "two minutes of the hold")
    assert state.is_file()
    stopped_at = clock.now()
    await wait_for(lambda: clock.now() > stopped_at + 60, "a minute of downtime")
    async with running(fresh_broker, rules, state, clock) as second:
        restarted = clock.now()
        assert restarted + 600 > due + 120  # a fresh hold would fire minutes later
        info = second.engine.instance("stuffy", "main.r101")
        assert (info.state, info.since) == (State.PENDING, pending_since)
        await wait_for(lambda: any(c.value == 100.0 for c in sent(second, VENT)), "full air")
        (command,) = [c for c in sent(second, VENT) if c.value == 100.0]
        assert command.ts == due
        assert command.source == "rule:stuffy"
        await wait_for(
            lambda: {"percentage": 100} in devices.got("zigbee2mqtt/main-r101-fan/set"),
            "the fan command on the broker",
        )


@run_async
async def test_an_override_wakes_the_controller_for_its_end(
    fresh_broker: Broker, devices: Devices, tmp_path: Path
) -> None:
    """No reading comes after the override: the controller has to wake for the override's
    change (held back by min_switch_interval, 30 s, if the lights came on less than that ago)
    and for its end by itself. It used to sleep on until the deadline it knew before the
    request, the sensor going stale 10 minutes (10 wall seconds) after its reading."""
    rules, state = rules_folder(tmp_path, LIGHT_RULES), tmp_path / "state.sqlite"
    clock = ScaledClock(START, speed=60.0)
    light_set = "zigbee2mqtt/main-r101-light/set"
    async with running(fresh_broker, rules, state, clock) as controller:
        devices.report(SENSOR, occupancy=True, co2=600, illuminance=100)
        # the last command ON (an OFF may come first: the settle can end before the reading)
        await wait_for(lambda: devices.got(light_set)[-1:] == [{"state": "ON"}], "lights on")
        before = len(devices.got(light_set))
        end = clock.now() + 60
        controller.override(LIGHTS, False, end, "alice")

        def since() -> list[object]:
            return list(devices.got(light_set)[before:])

        await wait_for(lambda: since()[:1] == [{"state": "OFF"}], "the override", 8)
        await wait_for(lambda: since() == [{"state": "OFF"}, {"state": "ON"}], "its end", 8)
        assert clock.now() < end + 180
        assert [(c.value, c.source) for c in sent(controller, LIGHTS)][-2:] == [
            (False, "override:alice"),
            (True, "rule:lights"),
        ]


@run_async
async def test_override_expires_while_running_and_while_stopped(
    fresh_broker: Broker, devices: Devices, tmp_path: Path
) -> None:
    rules, state = rules_folder(tmp_path, LIGHT_RULES), tmp_path / "state.sqlite"
    clock = ScaledClock(START, speed=60.0)
    light_set = "zigbee2mqtt/main-r101-light/set"
    async with running(fresh_broker, rules, state, clock) as controller:
        audits: list[Audit] = []
        controller.bus.subscribe(Audit, audits.append)
        devices.report(SENSOR, occupancy=True, co2=600, illuminance=100)
        await wait_for(lambda: controller.engine.actuator_value(LIGHTS) is True, "lights on")
        until = clock.now() + 180
        controller.override(LIGHTS, False, until, "alice")
        assert [(a.who, a.action) for a in audits] == [("alice", "override")]
        await wait_for(lambda: {"state": "OFF"} in devices.got(light_set), "the override")
        await wait_for(lambda: controller.engine.actuator_value(LIGHTS) is True, "expiry")
        back = [c for c in sent(controller, LIGHTS) if c.value is True][-1]
        assert (back.ts, back.source) == (until, "rule:lights")
        await wait_for(lambda: devices.got(light_set)[-1] == {"state": "ON"}, "lights back on")
        # an override that ends while the controller is stopped is not restored
        controller.override(LIGHTS, False, clock.now() + 120, "bob")
        await wait_for(lambda: devices.got(light_set)[-1] == {"state": "OFF"}, "bob's override")
        ends = clock.now() + 120
    await wait_for(lambda: clock.now() > ends + 30, "the override's end while stopped")
    async with running(fresh_broker, rules, state, clock) as again:
        assert not again.engine.has_override(LIGHTS)
        assert "override of main.r101.lights expired while stopped" in again.engine.restored
        await wait_for(lambda: devices.got(light_set)[-1] == {"state": "ON"}, "rule in charge")


@run_async
async def test_reload_with_a_broken_file_keeps_the_last_good_version(
    fresh_broker: Broker, devices: Devices, tmp_path: Path
) -> None:
    rules, state = rules_folder(tmp_path, LIGHT_RULES + HOLD_RULES[7:]), tmp_path / "s.sqlite"
    clock = ScaledClock(START, speed=60.0)
    async with running(fresh_broker, rules, state, clock, watch=0.1) as controller:
        audits: list[Audit] = []
        controller.bus.subscribe(Audit, audits.append)
        devices.report(SENSOR, occupancy=True, co2=1200, illuminance=100)
        await wait_for(lambda: controller.engine.actuator_value(LIGHTS) is True, "lights on")
        await wait_for(
            lambda: controller.engine.instance("stuffy", "main.r101").state is State.PENDING,
            "the hold to start",
        )
        hold_since = controller.engine.instance("stuffy", "main.r101").since
        broken = rules / "rules.yaml"
        broken.write_text(LIGHT_RULES.replace("illuminance < 300", "illuminance < ") + "oops: 1\n")
        await wait_for(lambda: audits, "the file watch to reload")
        assert (audits[0].who, audits[0].action) == ("file-watch", "reload-rules")
        report = controller.reload_rules("carol")
        assert not report.ok
        assert report.diff == []
        assert report.problems == [
            f"{broken}:4:38: does not parse: invalid syntax",
            f"{broken}:7:1: unknown key 'oops' in the file",
            f"{broken}: has errors; its last good version stays in force",
        ]
        stuffy = controller.engine.instance("stuffy", "main.r101")
        assert (stuffy.state, stuffy.since) == (State.PENDING, hold_since)  # carried over
        assert controller.engine.actuator_value(LIGHTS) is True
        # a good change is picked up by the watch, with a short diff
        shutil.copy(broken, tmp_path / "broken.bak")
        broken.write_text(LIGHT_RULES.replace("illuminance < 300", "illuminance < 50"))
        await wait_for(lambda: controller.engine.actuator_value(LIGHTS) is False, "the change")
        latest = [a for a in audits if a.who == "file-watch"][-1]
        assert latest.detail == "- rule stuffy (1 room); ~ rule lights: when changed"
