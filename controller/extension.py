"""Extensions: features that ride on the controller (history, control plane, discovery...).

Each is started after the drivers are connected and the engine exists, and stopped before the
drivers disconnect, in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from controller.runtime import Controller


class Extension(Protocol):
    name: str

    async def start(self, controller: Controller) -> None: ...

    async def stop(self) -> None: ...


async def end_task(task: asyncio.Task[None] | None) -> None:
    """Cancel an extension's background task (None: it has none) and wait until it has ended."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
