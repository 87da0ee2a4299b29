"""What the controller asks of every driver (MQTT, serial, Home Assistant, ...)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from campus.model import ActuatorSpec
from campus.types import Batch, Command


class Driver(Protocol):
    """A source of readings and, for the actuators it `handles`, a sink of commands.

    Used as an async context manager: entering connects (and keeps reconnecting in the
    background), leaving disconnects cleanly. Readings arrive in batches on `readings`, stamped
    with the injected clock: a `campus.types.Batch`, one list of readings per device message, in
    arrival order (a message's readings are simultaneous); `send` never blocks.
    """

    name: str
    readings: asyncio.Queue[Batch]

    def handles(self, actuator: ActuatorSpec) -> bool:
        """Whether this driver carries commands for `actuator`."""
        ...

    def send(self, command: Command) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class HandsOver(Protocol):
    """A driver that can call a consumer with each batch, on the event loop, as it is decoded.

    The controller uses it instead of `readings` when a driver offers it: a queue between the
    socket callback and the engine costs a task switch and several event-loop passes per batch,
    which dominate when messages come one at a time (bench/README.md, "Earlier figures, from
    the code's docstrings").
    """

    def hand_over_to(self, sink: Callable[[Batch], None]) -> None:
        """From now on give every batch to `sink` instead of putting it on `readings`."""
        ...


@runtime_checkable
class Gathers(Protocol):
    """A driver that gathers what `send` writes and writes it once per event-loop pass.

    The controller calls `flush` right after it has handed a batch's commands over, so that they
    leave before the rest of the pass (the controller's bookkeeping, the extensions' work on the
    same readings): a command's latency is the time to decide it, not the whole pass.
    """

    def flush(self) -> None:
        """Write now what was gathered; nothing if nothing was."""
        ...
