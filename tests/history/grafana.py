"""Grafana's side of the dashboard test: panels and variables of examples/grafana/campus.json,
with their InfluxQL rendered the way Grafana's InfluxDB data source renders it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from campus.yamlmodel import parse_duration
from tests.support.influx import InfluxV1

DASHBOARD = Path(__file__).resolve().parents[2] / "examples" / "grafana" / "campus.json"


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
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
) -> list[dict[str, Any]]:
    """The rows the panel's queries return over ``[end - span, end]`` (or the panel's own
    relative time, ``timeFrom``), epoch seconds in ``time``."""
    start = end - parse_duration(panel["timeFrom"]) if panel.get("timeFrom") else end - span
    rows: list[dict[str, Any]] = []
    for target in panel["targets"]:
        assert target["rawQuery"], f"{panel['title']}: queries must be raw InfluxQL"
        query = render(target["query"], start, end, values, interval)
        for series in server.query(query, db, epoch="s")[0].get("series", []):
            tags = series.get("tags", {})
            for row in series["values"]:
                rows.append({**tags, **dict(zip(series["columns"], row, strict=True))})
    return rows
