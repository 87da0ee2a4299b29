"""Sparklines as text, so they sit in a table cell and render the same in every terminal."""

from __future__ import annotations

BARS = "▁▂▃▄▅▆▇█"
ON, OFF = "█", "▁"


def sparkline(values: list[float | None], width: int) -> str:
    """The last `width` values as bars scaled between their min and max; gaps carry the last
    value forward (a sensor reports every minute or so), leading gaps are blank."""
    tail = _carried(values, width)
    known = [v for v in tail if v is not None]
    if not known:
        return " " * len(tail)
    low, high = min(known), max(known)
    span = high - low
    out = []
    for value in tail:
        if value is None:
            out.append(" ")
        elif span <= 0:
            out.append(BARS[len(BARS) // 2])
        else:
            out.append(BARS[min(len(BARS) - 1, int((value - low) / span * len(BARS)))])
    return "".join(out)


def bands(values: list[float | None], width: int) -> str:
    """On/off values (a boolean point's minutes, 1.0 or 0.0) as bands: full while on, a floor
    line while off, so an hour of "occupied" and an hour of "empty" differ (a sparkline scales
    both to the same middle bar); gaps and leading gaps as in `sparkline`."""
    return "".join(" " if v is None else ON if v else OFF for v in _carried(values, width))


def _carried(values: list[float | None], width: int) -> list[float | None]:
    """The last `width` values with each gap holding the value before it."""
    filled: list[float | None] = []
    last: float | None = None
    for value in values:
        last = value if value is not None else last
        filled.append(last)
    return filled[-width:] if width > 0 else []
