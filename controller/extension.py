"""Extensions: features that ride on the controller (history, control plane, discovery...).

Each is started after the drivers are connected and the engine exists, and stopped before the
drivers disconnect, in reverse order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from controller.runtime import Controller


class Extension(Protocol):
    name: str

    async def start(self, controller: Controller) -> None: ...

    async def stop(self) -> None: ...
