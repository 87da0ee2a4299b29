"""Sparklines as text, so they sit in a table cell and render the same in every terminal."""

from __future__ import annotations

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], width: int) -> str:
    """The last `width` values as bars scaled between their min and max; gaps carry the last
    value forward (a sensor reports every minute or so), leading gaps are blank."""
    filled: list[float | None] = []
    last: float | None = None
    for value in values:
        last = value if value is not None else last
        filled.append(last)
    tail = filled[-width:] if width > 0 else []
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
