"""The InfluxDB schema: how each bus event becomes a line of line protocol.

docs/influxdb.md is the contract dashboard builders rely on; this module is its only
implementation, so a change here is a change to that page. In short:

- one measurement per quantity, named after the point or actuator (``co2``, ``illuminance``,
  ``occupancy``, ``lights``, ``ventilation`` ...), tags ``site``, ``building``, ``room``,
  ``source`` (the kind of binding that carries it: ``mqtt``, ``serial`` ...), float field
  ``value`` (on/off and occupancy as 1/0); a device reported offline writes a string field
  ``quality="unavailable"`` instead of ``value``;
- ``command``: tags site/building/room, ``actuator``, ``level`` (the priority slot's name),
  ``origin`` (``rule``, ``override``, ``default``), ``rule`` (for rule commands); fields
  ``value``, ``priority`` (slot number), ``by`` (who: rule or person), ``reason``;
- ``rule``: one point per rule transition; tags site/building/room, ``rule``, ``state`` (the
  new state); fields ``value`` (1 while the rule holds its values), ``from``, ``cause``;
- ``alarm``: one point per alarm change; tags site/building/room, ``rule``, ``severity``,
  ``event`` (``raised``, ``cleared``, ``acknowledged``); fields ``value`` (1 while active),
  ``message``, ``acknowledged``, ``by``;
- ``audit``: one point per staff action; tags ``site``, ``action``; fields ``who``, ``detail``;
- ``kpi``: the site's day so far, one point per minute per controller (`wire.KpiMessage`, which
  controller.kpi emits on the bus as it publishes it); tags ``site``, ``shard`` (absent for a
  controller of the whole site); the message's counts, shares, energy, ``area_m2``, alarms
  (``alarms`` in all and ``alarms_<severity>``), overrides, ``worst_room``/``worst_co2`` and
  ``day`` as fields (a null is left out).

Tags hold only values from bounded sets (names from campus.yaml and the rule files, fixed
words); ids of people, messages and reasons are fields, so series cardinality stays bounded.
Times are microseconds.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable
from typing import Any, NamedTuple

from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from campus import wire
from campus.model import ActuatorSpec, Campus, PointSpec
from campus.types import Command, Reading, split_id
from controller.events import Audit
from controller.history.changes import ChangeFilter
from rules.arbiter import slot_name
from rules.events import AlarmChanged, Transition

log = logging.getLogger("campusctl.history")

PRECISION: Any = WritePrecision.US
RESERVED = frozenset({"command", "rule", "alarm", "audit", "kpi"})
"""Measurement names of the schema's own; a point or actuator must not be called so."""
EVENT_TYPES: tuple[type, ...] = (Command, Transition, AlarmChanged, Audit, wire.KpiMessage)
"""What the historian records one event at a time, as emitted on the controller's bus; readings
come a batch at a time (controller.events.Readings)."""
ACTIVE_STATES = frozenset({"active", "releasing"})
SEVERITIES = ("info", "warning", "critical")
KPI_COUNTS = ("rooms", "rooms_in_use", "occupied_minutes", "co2_minutes",
              "co2_within_1000_minutes", "co2_within_1400_minutes", "temperature_minutes",
              "temperature_comfort_minutes", "alarms_unacknowledged", "overrides",
              "overrides_over_4h")  # fmt: skip
"""`wire.KpiMessage` fields written as integers."""
KPI_FLOATS = ("area_m2", "co2_within_1000", "co2_within_1400", "worst_co2",
              "temperature_comfort", "lights_kwh", "ventilation_kwh", "outside_timetable_kwh",
              "lights_kwh_last_week", "ventilation_kwh_last_week", "uptime_s")  # fmt: skip
"""`wire.KpiMessage` fields written as floats (always: InfluxDB fixes a field's type)."""

Field = float | int | bool | str


class Row(NamedTuple):
    """One point before serialisation."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, Field]
    ts: float
    """POSIX seconds."""

    def line(self) -> bytes:
        """Line protocol, by influxdb-client's Point serialisation (escaping, number formats)."""
        point: Any = Point.from_dict(
            {
                "measurement": self.measurement,
                "tags": self.tags,
                "fields": self.fields,
                "time": round(self.ts * 1_000_000),
            },
            write_precision=PRECISION,
        )
        text: str = point.to_line_protocol()
        return text.encode()


class Schema:
    """Turns the controller's events into line protocol for one campus."""

    def __init__(self, campus: Campus, changes: ChangeFilter) -> None:
        self.site = campus.site.id
        self.changes = changes
        specs: list[PointSpec | ActuatorSpec] = [
            *campus.points().values(),
            *campus.actuators().values(),
        ]
        self._sources = {spec.id: binding_kind(spec) for spec in specs}
        self._prefixes: dict[str, bytes] = {}
        for name in sorted({i.rpartition(".")[2] for i in self._sources} & RESERVED):
            log.warning(
                "a point or actuator is called %r, which the history schema uses for its own "
                "measurement: its values will mix with the %s events; rename it in campus.yaml",
                name,
                name,
            )

    def lines(self, events: Iterable[object]) -> list[bytes]:
        """Line protocol for the events worth writing, in order."""
        out: list[bytes] = []
        for event in events:
            try:
                line = self.line(event)
            except Exception:
                log.exception("cannot record %r in InfluxDB; skipped it", event)
                continue
            if line is not None:
                out.append(line)
        return out

    def line(self, event: object) -> bytes | None:
        """One event's line, or None when it is not worth writing."""
        if isinstance(event, Reading):
            return self.reading_line(event) if self._wanted(event) else None
        if isinstance(event, Command):
            return self._command(event).line()
        if isinstance(event, Transition):
            return self._transition(event).line()
        if isinstance(event, AlarmChanged):
            return self._alarm(event).line()
        if isinstance(event, Audit):
            return self._audit(event).line()
        if isinstance(event, wire.KpiMessage):
            return self._kpi(event).line()
        raise TypeError(f"the history schema has no measurement for {type(event).__name__}")

    def heartbeats(self, now: float) -> list[bytes]:
        """Points repeating values that are flat but current (see `ChangeFilter.due`)."""
        return [self.reading_line(reading) for reading in self.changes.due(now)]

    def reading_line(self, reading: Reading) -> bytes:
        """A reading's line, without the Point machinery for each one (readings are the bulk).

        The measurement and tags are escaped once per point by influxdb-client's Point; the
        value is formatted the way Point formats a float (``412``, ``21.25``); the result is the
        same bytes as `Row.line` (tested).
        """
        value = reading.value
        if value is None:
            return self._reading_row(reading).line()
        prefix = self._prefixes.get(reading.point)
        if prefix is None:
            probe = self._reading_row(Reading(reading.point, 0.0, 0.0)).line()
            prefix = self._prefixes[reading.point] = probe[: probe.rindex(b" value=") + 1]
        text = str(float(value))
        if text.endswith(".0"):
            text = text[:-2]
        return b"%svalue=%s %d" % (prefix, text.encode(), round(reading.ts * 1_000_000))

    def _tags(self, room_id: str, **more: str) -> dict[str, str]:
        building, _, room = room_id.partition(".")
        return {"site": self.site, "building": building, "room": room, **more}

    def _wanted(self, reading: Reading) -> bool:
        if reading.point not in self._sources:
            return False
        value = reading.value
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return self.changes.wants(reading, reading.point.rpartition(".")[2])

    def _reading_row(self, reading: Reading) -> Row:
        building, room, name = split_id(reading.point)
        value = reading.value
        fields: dict[str, Field] = (
            {"quality": str(reading.quality)} if value is None else {"value": float(value)}
        )
        tags = self._tags(f"{building}.{room}", source=self._sources[reading.point])
        return Row(name, tags, fields, reading.ts)

    def _command(self, command: Command) -> Row:
        building, room, name = split_id(command.actuator)
        origin, _, who = command.source.partition(":")
        tags = self._tags(
            f"{building}.{room}", actuator=name, level=slot_name(command.priority), origin=origin
        )
        if origin == "rule" and who:
            tags["rule"] = who
        fields: dict[str, Field] = {
            "value": float(command.value),
            "priority": command.priority,
            "by": command.source,
            "reason": command.reason,
        }
        return Row("command", tags, fields, command.ts)

    def _transition(self, event: Transition) -> Row:
        tags = self._tags(event.room, rule=event.rule, state=event.new_state)
        fields: dict[str, Field] = {
            "value": 1.0 if event.new_state in ACTIVE_STATES else 0.0,
            "from": event.old_state,
            "cause": event.cause,
        }
        return Row("rule", tags, fields, event.ts)

    def _alarm(self, event: AlarmChanged) -> Row:
        alarm = event.alarm
        acked = alarm.acknowledged_at
        if acked is not None and acked >= alarm.last_seen:
            kind, ts = "acknowledged", acked
        else:
            kind, ts = ("raised" if alarm.active else "cleared"), alarm.last_seen
        tags = self._tags(alarm.room, rule=alarm.rule, severity=alarm.severity, event=kind)
        fields: dict[str, Field] = {
            "value": 1.0 if alarm.active else 0.0,
            "message": alarm.message,
            "acknowledged": alarm.acknowledged_by is not None,
            "by": alarm.acknowledged_by or "",
        }
        return Row("alarm", tags, fields, ts)

    def _audit(self, event: Audit) -> Row:
        tags = {"site": self.site, "action": event.action}
        return Row("audit", tags, {"who": event.who, "detail": event.detail}, event.ts)

    def _kpi(self, message: wire.KpiMessage) -> Row:
        tags = {"site": self.site}
        if message.shard:
            tags["shard"] = message.shard
        fields: dict[str, Field] = {name: int(getattr(message, name)) for name in KPI_COUNTS}
        for name in KPI_FLOATS:
            value = getattr(message, name)
            if value is not None:
                fields[name] = float(value)
        fields["alarms"] = sum(message.alarms.values())
        for severity in SEVERITIES:
            fields[f"alarms_{severity}"] = message.alarms.get(severity, 0)
        if message.worst_room is not None:
            fields["worst_room"] = message.worst_room
        fields["day"] = message.day
        return Row("kpi", tags, fields, message.ts)


def binding_kind(spec: PointSpec | ActuatorSpec) -> str:
    """The kind of binding that carries a point or actuator (``mqtt``, ``serial`` ...).

    Bindings are the spec's fields holding a dataclass (``mqtt: MqttBinding``); each driver adds
    its own, so the first one set names the source without this module knowing every driver.
    """
    for f in dataclasses.fields(spec):
        if dataclasses.is_dataclass(getattr(spec, f.name)):
            return f.name
    return "none"
