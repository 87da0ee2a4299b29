"""Waiting for what another thread or process delivers: the one way tests poll for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

POLL = 0.005
"""Seconds between looks."""


async def wait_for(condition: Callable[[], object], what: str = "", within: float = 30.0) -> float:
    """Poll `condition` until it is true; fail naming `what` after `within` wall seconds.
    Returns the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            raise AssertionError(f"timed out after {within:g} s waiting for {what or condition}")
        await asyncio.sleep(POLL)
    return time.monotonic() - start


def wait_for_blocking(
    condition: Callable[[], object], what: str = "", within: float = 30.0
) -> float:
    """`wait_for` for a test without an event loop: sleeps between looks."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            raise AssertionError(f"timed out after {within:g} s waiting for {what or condition}")
        time.sleep(POLL)
    return time.monotonic() - start
