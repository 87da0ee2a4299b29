"""How values, times and ages read for people: one place, so the TUI and the command line say
it the same way."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def value_text(value: float | bool | None, unit: str = "", *, kind: str = "") -> str:
    """``845 ppm``, ``21.4 °C``, ``on``; ``yes``/``no`` for occupancy; ``-`` when unknown."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        if kind == "occupancy":
            return "yes" if value else "no"
        return "on" if value else "off"
    text = f"{value:.1f}" if abs(value) < 100 and value != int(value) else f"{value:.0f}"
    return f"{text} {unit}".strip() if unit else text


def age_text(seconds: float | None) -> str:
    """``40s``, ``12m``, ``3h``, ``2d`` (rounded down)."""
    if seconds is None:
        return "never"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h"
    return f"{seconds // 86400:.0f}d"


def clock_text(ts: float | None, timezone: str, fmt: str = "%H:%M") -> str:
    if ts is None:
        return "-"
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.fromtimestamp(ts, zone).strftime(fmt)


def source_text(source: str) -> str:
    """``rule:ventilate`` -> ``ventilate``; ``override:alice`` -> ``alice (override)``."""
    kind, _, name = source.partition(":")
    if kind == "override":
        return f"{name} (override)"
    return name or kind


def counted(count: int, noun: str, plural: str = "") -> str:
    """``1 warning``, ``2 warnings``, ``0 rules``; `plural` for a noun whose plural is not the
    noun plus ``s`` (``counted(n, "activity", "activities")``)."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural or noun + 's'}"


def times_text(count: int) -> str:
    """``once``, ``twice``, ``3 times``: how often something happened."""
    return {1: "once", 2: "twice"}.get(count, f"{count} times")
