"""`explain` answers (rules.explain's dicts) as text for the terminal.

The same data comes from a running controller over the control plane or from a state file;
this only lays it out: one headline, then indented detail, times in the site's time zone.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any


def render(data: Any, tz: tzinfo) -> str:
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "actuator":
        return "\n".join(_actuator(data, tz))
    if kind == "instance":
        return "\n".join(_instance(data, tz))
    if kind == "rule":
        return "\n".join(_rule(data, tz))
    if kind == "room":
        lines = [f"room {data['id']}"]
        for actuator in data["actuators"]:
            lines += ["", *_actuator(actuator, tz)]
        lines += ["", "rule instances:"]
        lines += [f"  {_brief(i, tz)}" for i in data["instances"]]
        return "\n".join(lines)
    return repr(data)


def _actuator(data: dict[str, Any], tz: tzinfo) -> list[str]:
    lines = [f"{data['id']} = {_value(data['value'])}"]
    if data.get("sent") != data["value"]:
        waiting = data.get("waiting_until")
        until = f" (held back until {_at(waiting, tz)})" if waiting else ""
        lines[0] += f"; last sent {_value(data.get('sent'))}{until}"
    for slot in data["slots"]:
        mark = "*" if slot["wins"] else " "
        since = f" since {_at(slot['since'], tz)}" if slot.get("since") else ""
        until = f" until {_at(slot['until'], tz)}" if slot.get("until") else ""
        lines.append(
            f" {mark} slot {slot['slot']:>2} {slot['level']:<9} {slot['holder']}: "
            f"{_value(slot['value'])}{since}{until}"
        )
        lines.append(f"      {slot['why']}")
    return lines


def _instance(data: dict[str, Any], tz: tzinfo) -> list[str]:
    enabled = "" if data["enabled"] else " (disabled)"
    lines = [
        f"{data['id']}: {data['state']}{enabled} since {_at(data['since'], tz)} ({data['cause']})",
        f"  rule at {data['file']}, {data['level']} (slot {data['priority']})",
    ]
    lines += [f"  - {line}" for line in data["why"]]
    condition = data["condition"]
    lines.append(f"  {condition['role']}: {condition['text']}  -> {_value(condition['value'])}")
    lines += _parts(condition, "    ")
    if data["values"]:
        lines.append("  values: " + ", ".join(f"{k}={v}" for k, v in data["values"].items()))
    if data["writes"]:
        lines.append(
            "  writes: " + ", ".join(f"{k}={_value(v)}" for k, v in data["writes"].items())
        )
    if data["transitions"]:
        lines.append("  last transitions:")
        for t in data["transitions"]:
            lines.append(f"    {_at(t['ts'], tz)} {t['from']} -> {t['to']} ({t['cause']})")
    return lines


def _parts(node: dict[str, Any], indent: str) -> list[str]:
    lines: list[str] = []
    for part in node.get("parts", []):
        lines.append(f"{indent}{part['text']}  -> {_value(part['value'])}")
        lines += _parts(part, indent + "  ")
    return lines


def _rule(data: dict[str, Any], tz: tzinfo) -> list[str]:
    enabled = "enabled" if data["enabled"] else "disabled"
    lines = [f"rule {data['id']} ({data['file']}, {data['level']}, {enabled})"]
    if data.get("description"):
        lines.append(f"  {data['description']}")
    counts: dict[str, int] = {}
    for instance in data["instances"]:
        counts[instance["state"]] = counts.get(instance["state"], 0) + 1
    lines.append("  " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    lines += [f"  {_brief(i, tz)}" for i in data["instances"]]
    lines += [f"  skips {s['room']}: {s['reason']}" for s in data["skipped"]]
    lines.append(f"  (explain {data['id']}@ROOM for one room's detail)")
    return lines


def _brief(instance: dict[str, Any], tz: tzinfo) -> str:
    return (
        f"{instance['id']}: {instance['state']} since {_at(instance['since'], tz)} "
        f"({instance['cause']})"
    )


def _value(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float | int):
        return f"{value:g}"
    return str(value)


def _at(t: object, tz: tzinfo) -> str:
    if not isinstance(t, int | float):
        return "-"
    return datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M:%S")
