"""Resync: a device that reports a state other than the one last commanded is commanded again.

The controller sends a command only when an actuator's winning value changes, so a command that
never reached its device would be lost for good. That happens whenever the broker restarts
(without persistence): the controller may reconnect and send the commands it decided during
the outage before the devices have reconnected and subscribed again, and the broker drops them.
Devices announce their state when they come back (Zigbee2MQTT publishes it, retained state is
replayed), so the controller can tell: when an actuator's reported state differs from the last
command sent for it, and the device had `grace` wall seconds to act on that command, the same
command goes out again, its reason saying why.

A device that cannot take a value (broken, clamped by its own limits) is tried `max_tries`
times, then left alone with one warning until it reports the commanded state or a new command
is sent, so a broken device cannot make the controller flood the broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from campus.model import ActuatorSpec, ActuatorType
from campus.types import Command, Quality, Value
from controller.events import Reported
from controller.runtime import Controller, show_value

log = logging.getLogger("campusctl.resync")


class Resync:
    """The resync extension; see the module docstring."""

    name = "resync"

    def __init__(self, grace: float = 2.0, max_tries: int = 3) -> None:
        self.grace = grace
        """Wall seconds a device has to act on a command before its report counts against it."""
        self.max_tries = max_tries
        self.resent = 0
        """Commands sent again (for tests and the summary)."""
        self._controller: Controller | None = None
        self._actuators: dict[str, ActuatorSpec] = {}
        self._sent: dict[str, tuple[Command, float]] = {}
        self._reported: dict[str, Value] = {}
        self._tries: dict[str, int] = {}
        self._later: dict[str, asyncio.TimerHandle] = {}
        self._subscriptions: list[Callable[[], None]] = []

    async def start(self, controller: Controller) -> None:
        self._controller = controller
        self._actuators = controller.campus.actuators()
        self._subscriptions = [
            controller.bus.subscribe(Command, self._on_command),
            controller.bus.subscribe(Reported, self._on_reported),
        ]

    async def stop(self) -> None:
        for unsubscribe in self._subscriptions:
            unsubscribe()
        self._subscriptions = []
        for handle in self._later.values():
            handle.cancel()
        self._later.clear()

    def _on_command(self, command: Command) -> None:
        actuator = command.actuator
        previous = self._sent.get(actuator)
        if previous is None or previous[0].value != command.value:
            self._tries.pop(actuator, None)
        self._sent[actuator] = (command, time.monotonic())

    def _on_reported(self, event: Reported) -> None:
        for reading in event.readings:
            if reading.quality is not Quality.GOOD or reading.value is None:
                continue
            self._reported[reading.point] = reading.value
            self._check(reading.point)

    def _check(self, actuator: str) -> None:
        self._later.pop(actuator, None)
        sent = self._sent.get(actuator)
        reported = self._reported.get(actuator)
        if sent is None or reported is None:
            return
        command, at = sent
        if matches(self._actuators[actuator], reported, command.value):
            self._tries.pop(actuator, None)
            return
        wait = at + self.grace - time.monotonic()
        if wait > 0:
            if actuator not in self._later:
                loop = asyncio.get_running_loop()
                self._later[actuator] = loop.call_later(wait, self._check, actuator)
            return
        tries = self._tries.get(actuator, 0)
        if tries >= self.max_tries:
            if tries == self.max_tries:
                self._tries[actuator] = tries + 1
                log.warning(
                    "%s still reports %s after %d resends of %s: leaving it alone until it "
                    "reports that or a new command is decided",
                    actuator,
                    show_value(reported),
                    tries,
                    show_value(command.value),
                )
            return
        self._tries[actuator] = tries + 1
        self.resent += 1
        assert self._controller is not None
        again = command._replace(
            ts=self._controller.clock.now(),
            reason=f"resync: the device reported {show_value(reported)}; {command.reason}",
        )
        self._controller.send([again])


def matches(spec: ActuatorSpec, reported: Value, commanded: Value) -> bool:
    """Whether a reported state is the commanded one (levels within a device's rounding)."""
    if spec.type is ActuatorType.SWITCH or isinstance(commanded, bool):
        return bool(reported) == bool(commanded)
    low, high = spec.range
    tolerance = max(spec.deadband, 0.01 * (high - low))
    return abs(float(reported) - float(commanded)) <= tolerance
