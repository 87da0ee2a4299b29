"""The historian: a controller extension that records what the controller sees and does.

It subscribes on the controller's bus to readings, commands, rule transitions, alarm changes,
staff actions and the site's KPIs (each minute's `wire.KpiMessage`), and hands each to the
background `Writer`; the bus listener is the writer's `submit`, a deque append, so the
controller never waits on InfluxDB or the disk.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from campus.model import Campus
from campus.text import counted
from controller.events import Readings
from controller.history.changes import ChangeFilter
from controller.history.schema import EVENT_TYPES, Schema
from controller.history.settings import HistoryOptions, HistorySettings, resolve_settings
from controller.history.sinks import make_sink
from controller.history.spool import Spool
from controller.history.writer import Writer
from controller.state import default_path as default_state_path

if TYPE_CHECKING:
    from controller.runtime import Controller

log = logging.getLogger("campusctl.history")


def history_extension(
    campus: Campus, options: HistoryOptions, state: Path | str | None
) -> Historian | None:
    """The historian as configured, or None (said once) when no InfluxDB is configured.

    `state` is the controller's state file (``auto`` or None: the default one); the spool goes
    beside it unless configured.
    """
    base = Path(campus.source).parent if campus.source else None
    site = campus.site.id
    state_dir = (state if isinstance(state, Path) else default_state_path(site)).parent
    settings = resolve_settings(options, campus.history, site, base=base, state_dir=state_dir)
    if settings is None:
        log.info("history off: no InfluxDB configured (--influx-url, or history: in campus.yaml)")
        return None
    return Historian(settings)


class Historian:
    name = "history"

    def __init__(self, settings: HistorySettings) -> None:
        self.settings = settings
        self.writer: Writer | None = None
        self._controller: Controller | None = None

    async def start(self, controller: Controller) -> None:
        s = self.settings
        spool = Spool(s.spool, s.spool_max_bytes)
        changes = ChangeFilter.for_campus(controller.campus, s.heartbeat, s.deadband)
        schema = Schema(controller.campus, changes)
        clock = controller.clock

        def encode(events: list[object]) -> list[bytes]:
            return schema.lines(events) + schema.heartbeats(clock.now())

        sink = make_sink(s)
        writer = Writer(
            sink,
            spool,
            encode,
            batch_size=s.batch_size,
            flush_interval=s.flush_interval,
            retry_max=s.retry_max,
        )
        writer.start()
        self.writer, self._controller = writer, controller
        self._subscriptions = [controller.bus.subscribe(Readings, self._on_readings)]
        for event_type in EVENT_TYPES:
            self._subscriptions.append(controller.bus.subscribe(event_type, writer.submit))
        waiting = f", {counted(spool.count, 'point')} waiting from before" if spool.count else ""
        log.info("history on: %s; spool %s%s", sink.description, spool.path, waiting)

    def _on_readings(self, batch: Readings) -> None:
        if self.writer is not None:
            for message in batch.messages:
                self.writer.submit_all(message)

    async def stop(self) -> None:
        writer, controller = self.writer, self._controller
        if writer is None or controller is None:
            return
        for unsubscribe in self._subscriptions:
            unsubscribe()
        await asyncio.to_thread(writer.stop)
        writer.sink.close()
        writer.spool.close()
        self._controller = None
        stats = writer.stats
        left = writer.spool.count
        log.info(
            "history stopped: %s written, %d refused, %d went through the spool%s",
            counted(stats.written, "point"),
            stats.rejected,
            stats.spooled,
            f"; {counted(left, 'point')} stay spooled for the next start" if left else "",
        )
