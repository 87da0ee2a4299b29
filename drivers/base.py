"""What the controller asks of every driver (MQTT, serial, Home Assistant, ...)."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Protocol, Self

from campus.model import ActuatorSpec
from campus.types import Command, Reading


class Driver(Protocol):
    """A source of readings and, for the actuators it `handles`, a sink of commands.

    Used as an async context manager: entering connects (and keeps reconnecting in the
    background), leaving disconnects cleanly. Readings arrive in batches on `readings`, stamped
    with the injected clock; `send` never blocks.
    """

    name: str
    readings: asyncio.Queue[list[Reading]]

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
