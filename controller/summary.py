"""The demo's live terminal summary: one line per room, what it senses and what it drives."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.table import Table

from campus.types import Value
from controller.runtime import Controller
from rules.instance import PointState

POINTS = [("occupancy", "occ"), ("co2", "CO2"), ("illuminance", "lux"), ("temperature", "°C")]


def summary_table(controller: Controller, title: str = "") -> Table:
    campus = controller.campus
    now = datetime.fromtimestamp(controller.clock.now(), ZoneInfo(campus.site.timezone))
    caption = (
        f"{now:%a %Y-%m-%d %H:%M} (x{controller.clock.speed:g})  "
        f"readings {controller.readings}  commands {controller.commands}"
    )
    table = Table(title=title or campus.site.name, caption=caption, expand=False)
    table.add_column("room", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    for _, header in POINTS:
        table.add_column(header, justify="right")
    table.add_column("lights")
    table.add_column("vent %", justify="right")
    table.add_column("readings", justify="right")
    table.add_column("cmds", justify="right")
    points = controller.engine.points()
    for room in campus.rooms:
        stats = controller.rooms[room.id]
        values = {name: _value(points.get(f"{room.id}.{name}")) for name, _ in POINTS}
        cells = [room.id, room.kind]
        for name, _ in POINTS:
            cells.append(_cell(values[name], name in room.points, name == "occupancy"))
        for name in ("lights", "ventilation"):
            value = stats.reported.get(name, stats.commanded.get(name))
            cells.append(_cell(value, name in room.actuators))
        cells += [str(stats.readings), str(stats.commands)]
        table.add_row(*cells, style=_style(values["co2"]))
    return table


def _value(state: PointState | None) -> Value | None:
    """A point's live value for the table; None when unknown, unavailable or not a number."""
    value = None if state is None else state.value
    return value if isinstance(value, bool | int | float) else None


def _cell(value: Value | None, present: bool, presence: bool = False) -> str:
    if not present:
        return ""
    if value is None:
        return "?"
    if isinstance(value, bool) and presence:
        return "yes" if value else "no"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:.0f}"


def _style(co2: Value | None) -> str:
    if isinstance(co2, bool) or co2 is None:
        return ""
    if co2 > 1500:
        return "red"
    if co2 > 1000:
        return "yellow"
    return ""
