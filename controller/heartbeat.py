"""The controller's heartbeat: proof of life that devices can act on without the controller.

A controller that dies (power, crash, network) leaves devices in whatever state it last set:
lights on in an empty school, fans at full speed all night. So every `interval` seconds of the
controller's clock this extension publishes a retained message on
``campusctl/<site>/heartbeat``::

    {"ts": 1795420800.0, "interval": 60.0, "fallback_after": 3}

and devices (or the Zigbee2MQTT/Tasmota logic in front of them, docs/operations.md) restart a
timer on every heartbeat they receive. When `fallback_after` heartbeats in a row are missed,
they go to their safe state on their own: lights off, ventilation at a safe minimum. The
simulator's devices do exactly that (simulators/fallback.py). The controller, once back, sends
every actuator's value again after its settle, which ends the fallback.

Published at QoS 0: a heartbeat that cannot be delivered now is worthless later, so nothing is
queued while the broker is away. Retained, so a tool that connects sees when the controller
last lived. The control plane's ``controller`` message (wall-clock paced, with counters) is for
people; this one is the machine contract, on the controller's clock.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from campus import wire
from campus.problems import CampusError
from controller.extension import end_task
from controller.runtime import Controller
from drivers.mqtt import MqttDriver

log = logging.getLogger("campusctl.heartbeat")

RETRY = 0.2
"""Wall seconds between two looks at a lost broker connection: the first heartbeat after a
reconnect goes out at once, not an interval later."""


@dataclass(frozen=True, slots=True)
class HeartbeatSettings:
    interval: float = 60.0
    """Seconds of the controller's clock between two heartbeats."""
    fallback_after: int = 3
    """Missed heartbeats after which devices should fall back (advertised in each message)."""
    shard: str = ""
    """The controller's shard: it beats on ``heartbeat/<shard>`` for its own buildings only, so
    a dead shard's devices fall back while the others beat ("": the whole site)."""

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise CampusError(f"heartbeat interval must be positive, got {self.interval}")
        if self.fallback_after < 1:
            raise CampusError(
                f"heartbeat fallback_after must be at least 1, got {self.fallback_after}"
            )


class Heartbeat:
    """The heartbeat extension; see the module docstring."""

    name = "heartbeat"

    def __init__(self, settings: HeartbeatSettings | None = None) -> None:
        self.settings = settings or HeartbeatSettings()
        self.sent = 0
        """Heartbeats handed to the broker (not counting those skipped while disconnected)."""
        self._task: asyncio.Task[None] | None = None

    async def start(self, controller: Controller) -> None:
        driver = controller.driver("mqtt")
        if not isinstance(driver, MqttDriver):
            log.warning("no MQTT driver: no heartbeat, so devices cannot detect an outage")
            return
        topic = wire.Topics(controller.campus.site.id, self.settings.shard).heartbeat
        self._task = asyncio.create_task(self._beat(controller, driver, topic), name="heartbeat")

    async def stop(self) -> None:
        await end_task(self._task)
        self._task = None

    async def _beat(self, controller: Controller, driver: MqttDriver, topic: str) -> None:
        clock = controller.clock
        interval = self.settings.interval
        buildings = [b.id for b in controller.campus.buildings] if self.settings.shard else []
        due = clock.now()
        while True:
            if not driver.connected:
                await asyncio.sleep(RETRY)
                continue
            message = wire.HeartbeatMessage(
                ts=clock.now(),
                interval=interval,
                fallback_after=self.settings.fallback_after,
                buildings=buildings,
            )
            driver.publish(topic, wire.encode(message), 0, True)
            self.sent += 1
            due = max(due + interval, clock.now())
            await clock.sleep_until(due)
