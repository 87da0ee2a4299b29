"""Grafana's side of the dashboard tests: panels and variables of examples/grafana/*.json, with
their InfluxQL rendered the way Grafana's InfluxDB data source renders it."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from campus.yamlmodel import parse_duration
from tests.support.influx import InfluxV1

FOLDER = Path(__file__).resolve().parents[2] / "examples" / "grafana"
DASHBOARD = FOLDER / "campus.json"
DISTRICT = FOLDER / "district.json"


def load(path: Path = DASHBOARD) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def panels(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every panel that queries, by title (rows and nested row panels included)."""
    out: dict[str, dict[str, Any]] = {}
    for panel in dashboard["panels"]:
        for p in [panel, *panel.get("panels", [])]:
            if p["type"] != "row":
                assert p["title"] not in out, f"two panels called {p['title']!r}"
                out[p["title"]] = p
    return out


def variables(dashboard: dict[str, Any]) -> dict[str, str]:
    """Query variables by name -> their InfluxQL."""
    return {v["name"]: v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"}


def render(query: str, start: float, end: float, values: dict[str, str], interval: str) -> str:
    """`query` with Grafana's macros filled in: ``$timeFilter`` as Grafana writes it for
    InfluxQL (``time >= <ms>ms and time <= <ms>ms``), ``$__interval``, and ``$name`` /
    ``${name}`` variables (regex-escaped, as Grafana does inside ``/.../``)."""
    text = query.replace(
        "$timeFilter", f"time >= {int(start * 1000)}ms and time <= {int(end * 1000)}ms"
    )
    text = text.replace("$__interval", interval)

    def variable(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in values, f"the test gives no value for ${name} in {query}"
        return re.escape(values[name])

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", variable, text)


def run_panel(
    server: InfluxV1,
    db: str,
    panel: dict[str, Any],
    *,
    end: float,
    span: float,
    values: dict[str, str],
    interval: str = "5m",
    zone: str = "UTC",
) -> list[dict[str, Any]]:
    """The rows the panel's queries return over ``[end - span, end]`` (or the panel's own
    relative time, ``timeFrom``: a duration, or ``now/d``, today so far in the dashboard's time
    `zone`), epoch seconds in ``time``."""
    start = panel_start(panel.get("timeFrom"), end, span, zone)
    rows: list[dict[str, Any]] = []
    for target in panel["targets"]:
        assert target["rawQuery"], f"{panel['title']}: queries must be raw InfluxQL"
        query = render(target["query"], start, end, values, interval)
        for series in server.query(query, db, epoch="s")[0].get("series", []):
            tags = series.get("tags", {})
            for row in series["values"]:
                rows.append({**tags, **dict(zip(series["columns"], row, strict=True))})
    return rows


def panel_start(time_from: str | None, end: float, span: float, zone: str) -> float:
    if not time_from:
        return end - span
    if time_from == "now/d":
        local = datetime.fromtimestamp(end, ZoneInfo(zone))
        return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    return end - parse_duration(time_from)


def sort_rows(panel: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` in the order a table panel shows them: by its ``sortBy`` column (Grafana's table
    sorts by one column; rows without a value last)."""
    [sort] = panel["options"]["sortBy"]
    column, desc = sort["displayName"], sort["desc"]
    known = [row for row in rows if row.get(column) is not None]
    unknown = [row for row in rows if row.get(column) is None]
    return sorted(known, key=lambda row: row[column], reverse=desc) + unknown
