"""The controller's ticks (`Controller.every_tick`): background work right after a pass of
readings that sent no command, after the hold-off when one did, and seldom when idle."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from campus.clock import VirtualClock
from campus.types import Command, Reading
from controller.runtime import IDLE_TICK, TICK, Controller
from rules.loader import load_rules
from tests.conftest import EXAMPLES
from tests.controller.harness import START, demo_campus
from tests.support.aio import run_async
from tests.support.waiting import wait_for

READING = [[Reading("main.r101.co2", 700.0, START)]]
"""A reading that commands nothing."""
COMMAND = Command("main.r102.lights", True, START, "override:alice", 8, "a test")


class Job:
    """A tick job that counts its runs and notes how long the hot path had been quiet."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.quiet: list[float] = []
        self.waiting = 0
        """Runs still to report work waiting."""

    def __call__(self) -> bool:
        self.quiet.append(self.controller.quiet_left(time.monotonic()))
        self.waiting -= 1
        return self.waiting >= 0

    @property
    def runs(self) -> int:
        return len(self.quiet)


@contextlib.asynccontextmanager
async def ticking() -> AsyncIterator[tuple[Controller, Job]]:
    campus = demo_campus()
    controller = Controller(
        campus, load_rules([EXAMPLES / "rules"], campus), [], VirtualClock(START), settle=0.0
    )
    job = Job(controller)
    controller.every_tick(job)
    task = asyncio.create_task(controller.run())
    try:
        await wait_for(lambda: job.runs >= 1, "the first tick", 10)
        yield controller, job
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def idle(job: Job) -> None:
    """Until the ticks have gone idle: two ticks with nothing waiting and nothing done, and a
    tick's time after the last one (a tick is due again)."""
    runs = job.runs
    await wait_for(lambda: job.runs >= runs + 2, "two quiet ticks", 10)
    await asyncio.sleep(2 * TICK)


@run_async
async def test_an_idle_controller_ticks_seldom() -> None:
    async with ticking() as (_, job):
        await idle(job)
        runs = job.runs
        await asyncio.sleep(1.2 * IDLE_TICK)
        assert job.runs - runs <= 2, "an idle controller woke for nothing"


@run_async
async def test_work_waiting_keeps_the_ticks_coming_until_it_is_done() -> None:
    async with ticking() as (_, job):
        await idle(job)
        job.waiting = 5
        runs = job.runs
        await wait_for(lambda: job.runs >= runs + 1, "the idle tick", 2 * IDLE_TICK)
        took = await wait_for(lambda: job.runs >= runs + 6, "five ticks after it", IDLE_TICK)
        assert took < IDLE_TICK, "the ticks came at the idle pace while work waited"


@run_async
async def test_readings_that_command_nothing_bring_a_tick_right_after_their_pass() -> None:
    async with ticking() as (controller, job):
        await idle(job)
        runs = job.runs
        controller.handle(READING)
        await asyncio.sleep(0)  # the pass the tick was queued behind
        await asyncio.sleep(0)
        assert job.runs == runs + 1, "no tick right after the readings' pass"
        assert job.quiet[-1] > 0, "it did not wait for the hot path to be quiet"


@run_async
async def test_after_a_command_the_tick_waits_for_the_hold_off() -> None:
    async with ticking() as (controller, job):
        await idle(job)
        runs = job.runs
        for _ in range(20):
            controller.send([COMMAND])
            controller.handle(READING)  # in the same pass: it must not bring the tick early
            await asyncio.sleep(0)
        assert job.runs == runs, "a tick ran right after a command"
        await wait_for(lambda: job.runs >= runs + 2, "two ticks after the commands", 10)
        assert max(job.quiet[runs:]) <= 0, "a tick ran within the hold-off of a command"


@run_async
async def test_tick_soon_wakes_an_idle_controller() -> None:
    async with ticking() as (controller, job):
        await idle(job)
        runs = job.runs
        controller.tick_soon()
        took = await wait_for(lambda: job.runs > runs, "the tick", IDLE_TICK)
        assert took < IDLE_TICK / 2


@run_async
async def test_a_failing_job_runs_again_and_a_stopped_one_no_more(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with ticking() as (controller, job):
        failures = 0

        def failing() -> None:
            nonlocal failures
            failures += 1
            raise RuntimeError("a bug in background work")

        stop = controller.every_tick(failing)
        controller.tick_soon()
        await wait_for(lambda: failures >= 2, "two failing ticks", 10 * IDLE_TICK)
        stop()
        counted, runs = failures, job.runs
        controller.tick_soon()
        await wait_for(lambda: job.runs >= runs + 2, "two more ticks", 10 * IDLE_TICK)
    assert failures == counted, "a stopped job ran again"
    assert "a bug in background work" in caplog.text
    assert TICK < IDLE_TICK


@run_async
async def test_no_tick_after_the_stop_whatever_comes() -> None:
    async with ticking() as (controller, job):
        await idle(job)
    runs = job.runs
    controller.tick_soon()  # an event raised while the extensions stop
    controller.handle(READING)
    await asyncio.sleep(3 * TICK)
    assert job.runs == runs, "a tick ran after the stop"
