"""How long an override holds, as staff type it: a duration (``30m``, ``2h``, ``1h30m``), an end
time (``until 14:00``: the next 14:00; ``until 2026-11-24 08:00``) or the end of the day, read on
the controller's clock and in the site's time zone, and turned into the ``override`` request's
``duration`` or ``until`` (docs/mqtt.md). Pure logic: no Textual."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from campus.yamlmodel import parse_duration

PRESETS = ("15m", "30m", "1h", "2h", "end of day")
"""The common holds, one key each in the dialog."""
END_OF_DAY = frozenset({"end of day", "end-of-day", "eod", "midnight"})
TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})")


class HoldError(ValueError):
    """Text that is no hold; the message says what to write instead."""


@dataclass(frozen=True, slots=True)
class Hold:
    fields: dict[str, Any]
    """The request's ``duration`` (seconds) or ``until`` (local ``2026-11-23 14:00`` or
    ``end-of-day``)."""
    end: float
    """When it ends on the controller's clock, as worked out here (for the dialog to show)."""


def parse_hold(text: str, now: float, timezone: str) -> Hold:
    """`text` as a hold starting at `now` (the controller's clock) in the site's `timezone`."""
    words = " ".join(text.lower().split()).removeprefix("for ")
    tz = ZoneInfo(timezone)
    local_now = datetime.fromtimestamp(now, tz)
    end_time = words.removeprefix("until ")
    if end_time in END_OF_DAY:
        midnight = datetime.combine(local_now.date() + timedelta(days=1), time(), tzinfo=tz)
        return Hold({"until": "end-of-day"}, midnight.timestamp())
    if words.startswith("until ") or TIME_OF_DAY.fullmatch(words):
        end = _end_time(end_time, local_now)
        return Hold({"until": end.strftime("%Y-%m-%d %H:%M")}, end.timestamp())
    if not words:
        raise HoldError("say how long: 30m, 2h, until 14:00 or end of day")
    if re.fullmatch(r"\d+(\.\d+)?", words):
        raise HoldError(f"{words} what? write {words}m or {words}h")
    try:
        seconds = parse_duration(words)
    except ValueError:
        raise HoldError(
            f"{text.strip()!r} is no duration (30m, 2h, 1h30m) or end (until 14:00, end of day)"
        ) from None
    if seconds <= 0:
        raise HoldError("an override must hold for more than 0 s")
    return Hold({"duration": seconds}, now + seconds)


def _end_time(text: str, now: datetime) -> datetime:
    """``14:00``: the next 14:00 (today, else tomorrow); ``2026-11-24 08:00``: then."""
    clock = TIME_OF_DAY.fullmatch(text)
    if clock is not None:
        hour, minute = int(clock.group(1)), int(clock.group(2))
        if hour > 23 or minute > 59:
            raise HoldError(f"{text} is no time of day: write HH:MM, like 14:00")
        end = datetime.combine(now.date(), time(hour, minute), tzinfo=now.tzinfo)
        return end if end > now else end + timedelta(days=1)
    try:
        end = datetime.fromisoformat(text)
    except ValueError:
        raise HoldError(f"until {text!r}: write until 14:00 or until 2026-11-24 08:00") from None
    end = end.replace(tzinfo=now.tzinfo) if end.tzinfo is None else end.astimezone(now.tzinfo)
    if end <= now:
        raise HoldError(f"{end:%Y-%m-%d %H:%M} has passed on the controller's clock")
    return end


def end_text(end: float, now: float, timezone: str) -> str:
    """``ends 14:00 today (in 3h30m)``, ``ends 08:00 tomorrow (in 21h00m)``, ``ends 08:00 Wed
    25 Nov (in 2d21h)``."""
    tz = ZoneInfo(timezone)
    at, today = datetime.fromtimestamp(end, tz), datetime.fromtimestamp(now, tz).date()
    day = {0: "today", 1: "tomorrow"}.get((at.date() - today).days) or at.strftime("%a %d %b")
    left = max(0, int(end - now))
    days, hours, minutes = left // 86400, left % 86400 // 3600, left % 3600 // 60
    span = f"{days}d{hours}h" if days else f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"
    return f"ends {at:%H:%M} {day} (in {span})"
