"""Helpers for the serial tests: async tests without a plugin, waiting with deadlines, a
simulator running on its own loop for the synchronous CLI tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec

from drivers.serial.port import SerialTiming
from simulators.serial.runner import SerialSimulator

P = ParamSpec("P")

FAST = SerialTiming(backoff_initial=0.05, backoff_max=0.4, silence=1.5, log_interval=0.0)
"""Port timing for tests: quick retries, every problem logged."""


class Values(dict[str, float | None]):
    """A room's true values, set by the test: a device's `ValueSource`."""

    def __call__(self, name: str) -> float | None:
        return self.get(name)


@contextmanager
def simulator_thread(simulator: SerialSimulator) -> Iterator[Callable[[Callable[[], None]], None]]:
    """Run `simulator` on an event loop in a thread (for tests of blocking code); yields a
    function that runs a callable on that loop and waits for it."""
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with simulator:
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(5), "the serial simulator did not start"

    def call(fn: Callable[[], None]) -> None:
        done = threading.Event()

        def run() -> None:
            try:
                fn()
            finally:
                done.set()

        loop.call_soon_threadsafe(run)
        assert done.wait(5)

    try:
        yield call
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)
        loop.close()
