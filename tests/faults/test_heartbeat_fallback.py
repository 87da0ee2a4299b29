"""Graceful degradation: the controller is SIGKILLed while it keeps lights on and fans running;
the simulated devices, missing its heartbeat, fall back on their own after N heartbeats; the
controller, restarted, takes them back.

What is lost: nothing that matters. The devices leave the wasteful state (lights on, fans at
80 %) within `missed` heartbeat intervals of the last heartbeat, never before `missed - 1`,
and the restarted controller restores what its rules require.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from campus.model import Campus
from simulators.fallback import FallbackSettings
from simulators.mqtt import SimulatorRunner
from simulators.world import World
from tests.faults.support import ControllerProcess
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.mqtt]

CAMPUS = """\
site: {id: hb, name: Heartbeat School, timezone: Europe/Oslo}
kinds:
  classroom:
    points:
      co2:
        unit: ppm
        range: [250, 10000]
        stale_after: 30m
        mqtt: {topic: "zigbee2mqtt/{building}-{room}-multisensor"}
    actuators:
      lights: {type: switch, default: off, mqtt: {topic: "zigbee2mqtt/{building}-{room}-light"}}
      ventilation:
        type: level
        default: 0
        mqtt: {topic: "zigbee2mqtt/{building}-{room}-fan", key: percentage}
buildings:
  - id: b1
    rooms:
      - {id: r101..r102, kind: classroom, capacity: 28, area: 60}
"""
RULES = """\
rules:
  - id: always-on
    when: co2 > 0
    set:
      lights: on
      ventilation: 80
"""
SPEED = 60.0
INTERVAL = 30.0
"""Heartbeat every 30 simulated seconds (half a wall second)."""
MISSED = 3
STEP = 5.0
LAG = 60.0
"""Simulated seconds (one wall second) a loaded machine may add to the simulator's step loop."""


def test_devices_fall_back_after_missed_heartbeats_and_recover(
    fresh_broker: Broker, tmp_path: Path
) -> None:
    (tmp_path / "campus.yaml").write_text(CAMPUS)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(RULES)
    asyncio.run(_scenario(fresh_broker, tmp_path))


def devices(broker: Broker, folder: Path) -> tuple[Campus, ScaledClock, World, SimulatorRunner]:
    """The campus of `folder`, the test's clock, and its simulated devices with their fallback
    (not started)."""
    campus = load_campus(folder / "campus.yaml")
    clock = ScaledClock(parse_start("2026-11-23 20:00", campus.site.timezone), SPEED)
    world = World(campus, seed=1, start=clock.now())
    fallback = FallbackSettings(missed=MISSED, interval=INTERVAL)
    simulator = SimulatorRunner(
        world, clock, parse_broker_url(broker.url), step=STEP, fallback=fallback
    )
    return campus, clock, world, simulator


async def _scenario(broker: Broker, folder: Path) -> None:
    campus, clock, world, simulator = devices(broker, folder)
    controller = ControllerProcess(folder, broker.url, clock, extra=["--heartbeat", str(INTERVAL)])
    rooms = [room.id for room in campus.rooms]

    def running(lights: float, ventilation: float) -> bool:
        return all(
            world.truth(r).lights == lights and abs(world.truth(r).ventilation - ventilation) < 1e-6
            for r in rooms
        )

    sim_task = asyncio.create_task(simulator.run())
    try:
        await asyncio.wait_for(simulator.connected.wait(), 10)
        controller.start()
        (watchdog,) = simulator.watchdogs.values()  # one building
        await wait_for(
            lambda: running(1.0, 0.8) and not watchdog.fallen_back,
            "the rules to light and air every room, with live heartbeats",
            30,
        )
        before = watchdog.fallbacks  # 1 when the controller took longer to start than 3 beats

        controller.kill()
        killed_at = clock.now()
        samples: list[tuple[float, bool]] = []

        def fell_back() -> bool:
            samples.append((clock.now(), running(0.0, 0.2)))
            return samples[-1][1]

        await wait_for(fell_back, "the devices to fall back", 20)
        assert watchdog.fallbacks == before + 1
        last_heartbeat = watchdog.last
        assert killed_at - INTERVAL - LAG <= last_heartbeat <= killed_at + LAG
        earliest = last_heartbeat + (MISSED - 1) * INTERVAL
        fell_at = watchdog.fell_back_at
        assert fell_at is not None
        assert fell_at > last_heartbeat + MISSED * INTERVAL, "fell back before missing them all"
        assert fell_at <= last_heartbeat + MISSED * INTERVAL + STEP + LAG, (
            f"fell back {fell_at - last_heartbeat:.0f} s after the last heartbeat"
        )
        assert not any(safe for t, safe in samples if t <= earliest)

        controller.start()
        await wait_for(lambda: running(1.0, 0.8), "the restarted controller to take over", 30)
        await wait_for(lambda: not watchdog.fallen_back, "a live heartbeat again")
        assert watchdog.fallbacks == before + 1
    finally:
        controller.stop()
        simulator.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await sim_task


SHARDED_CAMPUS = (
    CAMPUS
    + """\
  - id: b2
    rooms:
      - {id: r201..r202, kind: classroom, capacity: 28, area: 60}
"""
)


def test_a_dead_shards_devices_fall_back_while_the_other_shard_beats(
    fresh_broker: Broker, tmp_path: Path
) -> None:
    """Two shards, b1 and b2, each beating on its own heartbeat topic for its own building:
    b2's shard is killed, b2's devices fall back, b1's keep the rules' state (with one
    heartbeat topic for the site, b1's beats kept b2's devices waiting forever)."""
    (tmp_path / "campus.yaml").write_text(SHARDED_CAMPUS)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.yaml").write_text(RULES)
    asyncio.run(_sharded(fresh_broker, tmp_path))


async def _sharded(broker: Broker, folder: Path) -> None:
    campus, clock, world, simulator = devices(broker, folder)
    beat = ["--heartbeat", str(INTERVAL)]
    shards = {
        b: ControllerProcess(folder, broker.url, clock, extra=[*beat, "--shard", b], name=b)
        for b in ("b1", "b2")
    }

    def running(building: str, lights: float) -> bool:
        rooms = [r.id for r in campus.rooms if r.building == building]
        return all(world.truth(r).lights == lights for r in rooms)

    sim_task = asyncio.create_task(simulator.run())
    try:
        await asyncio.wait_for(simulator.connected.wait(), 10)
        for shard in shards.values():
            shard.start()
        dogs = simulator.watchdogs
        await wait_for(
            lambda: running("b1", 1.0) and running("b2", 1.0) and not dogs["b2"].fallen_back,
            "both shards' rules to light their rooms, with live heartbeats",
            30,
        )
        before = {b: dog.fallbacks for b, dog in dogs.items()}
        shards["b2"].kill()
        await wait_for(lambda: running("b2", 0.0), "b2's devices to fall back", 20)
        assert dogs["b2"].fallbacks == before["b2"] + 1
        waited = clock.now() + 2 * INTERVAL  # two more of b1's beats
        await wait_for(lambda: clock.now() > waited, "b1's shard to beat twice more", 10)
        assert dogs["b1"].fallbacks == before["b1"], "b1's devices fell back with b1 alive"
        assert running("b1", 1.0)
    finally:
        for shard in shards.values():
            shard.stop()
        simulator.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await sim_task
