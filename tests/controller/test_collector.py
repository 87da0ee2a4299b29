"""Garbage collection at quiet moments (controller/collector.py) and the hold-off it waits for
(`Controller.quiet_left`); the ticks themselves: test_ticks.py."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from campus.clock import ScaledClock, VirtualClock
from campus.types import Command, Reading
from controller.collector import Collector, due_generation, paused
from controller.runtime import HOLD_OFF, Controller
from rules.loader import load_rules
from tests.conftest import EXAMPLES
from tests.controller.harness import LIGHT_RULES, START, demo_campus, rules_folder, running
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for, wait_for_blocking


class Node:
    """Something that can be in a reference cycle."""

    def __init__(self) -> None:
        self.other: object = None


@pytest.fixture
def collector_off() -> Iterator[None]:
    """Automatic collection as the test found it, whatever the test did."""
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()


def young_over_threshold() -> list[list[int]]:
    """Containers kept alive until the young generation's count is over its threshold."""
    kept: list[list[int]] = []
    while gc.get_count()[0] <= gc.get_threshold()[0]:
        kept.append([])
    return kept


def allocating(condition: Callable[[], bool]) -> Callable[[], bool]:
    """`condition`, keeping the young generation over its threshold at every look (what else
    runs meanwhile may free objects and bring its count down)."""
    kept: list[list[int]] = []

    def look() -> bool:
        kept.extend(young_over_threshold())
        return condition()

    return look


def test_a_reading_or_a_command_makes_background_work_hold_off() -> None:
    campus = demo_campus()
    controller = Controller(
        campus, load_rules([EXAMPLES / "rules"], campus), [], VirtualClock(START), settle=0.0
    )
    assert controller.quiet_left(time.monotonic()) <= 0, "nothing happened yet"
    before = time.monotonic()
    controller.handle([[Reading("main.r101.co2", 700.0, START)]])
    after = time.monotonic()
    assert HOLD_OFF - (after - before) <= controller.quiet_left(after) <= HOLD_OFF
    assert controller.quiet_left(after + HOLD_OFF) <= 0
    wait_for_blocking(lambda: controller.quiet_left(time.monotonic()) <= 0, "the hold-off", 5)
    before = time.monotonic()
    controller.send([])  # the timer loop's pass that sends nothing
    assert controller.quiet_left(before) <= 0
    before = time.monotonic()
    controller.send([Command("main.r102.lights", True, START, "override:alice", 8, "a test")])
    assert controller.quiet_left(before) > 0


def test_due_generation_follows_the_counts_and_thresholds(collector_off: None) -> None:
    gc.disable()
    gc.collect()
    assert due_generation() is None
    kept = young_over_threshold()
    assert due_generation() == 0
    collector = Collector()
    assert collector.step() == 0
    assert due_generation() is None
    assert collector.passes == [1, 0, 0]
    del kept


def test_paused_builds_with_the_collector_off_and_freezes_what_it_built(
    collector_off: None,
) -> None:
    gc.enable()
    before = gc.get_freeze_count()
    try:
        with paused(freeze=True):
            assert not gc.isenabled()
            built: list[list[int]] = [[] for _ in range(1_000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= before + len(built)
    finally:
        gc.unfreeze()


def test_paused_freezes_nothing_on_an_error_and_leaves_the_collector_as_it_was(
    collector_off: None,
) -> None:
    gc.enable()
    before = gc.get_freeze_count()
    with pytest.raises(ValueError, match="bad campus"), paused(freeze=True):
        raise ValueError("bad campus.yaml")
    assert gc.isenabled()
    assert gc.get_freeze_count() == before
    gc.disable()
    with paused():
        pass
    assert not gc.isenabled(), "it was off before"


def test_cycles_are_freed_while_automatic_collection_is_off(collector_off: None) -> None:
    gc.enable()
    collector = Collector()
    assert collector.start()
    try:
        assert not gc.isenabled()
        assert not Collector().start(), "already off: a second one has nothing to hand back"
        node = Node()
        node.other = node
        freed = weakref.ref(node)
        del node
        kept = young_over_threshold()
        collector.step()
        assert freed() is None
        assert sum(collector.passes) >= 1
        del kept
    finally:
        collector.stop()
    assert gc.isenabled()


@pytest.mark.mqtt
@run_async
async def test_a_running_controller_collects_itself_and_hands_back_on_stop(
    fresh_broker: Broker, tmp_path: Path, collector_off: None
) -> None:
    assert gc.isenabled()
    clock = ScaledClock(START, 1.0)
    folder = rules_folder(tmp_path, LIGHT_RULES)
    async with running(fresh_broker, folder, tmp_path / "state.sqlite", clock) as controller:
        assert not gc.isenabled()
        passes = controller.collector.passes
        await wait_for(allocating(lambda: sum(passes) >= 1), "a collection", 10)
    assert gc.isenabled()
