"""The controller's `explain` answer in words (actuator, instance, rule or room): the one
renderer, for the TUI (styled) and `campusctl rules explain` (its plain text).

The answer is data (rules/explain.py on the controller's side, seen here only as JSON, from a
running controller or a state file); this module words it for staff: who holds an actuator and
why, and why a rule is or is not active. Times are the site's, with the weekday, as an answer
may speak of yesterday.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from campus.text import clock_text, source_text

Json = dict[str, Any]
TIME = "%a %H:%M:%S"


def explain_text(data: object, timezone: str) -> Text:
    """`data` (the answer's JSON) in words; `timezone`: the site's (an IANA name)."""
    if not isinstance(data, dict):
        return Text(f"no explanation in the answer: {data!r}")
    kind = data.get("kind")
    out = Text()
    if kind == "actuator":
        _actuator(out, data, timezone)
    elif kind == "instance":
        _instance(out, data, timezone)
    elif kind == "rule":
        _rule(out, data, timezone)
    elif kind == "room":
        for actuator in _list(data.get("actuators")):
            _actuator(out, actuator, timezone)
            out.append("\n")
        _instances(out, _list(data.get("instances")), timezone)
    else:
        for key, value in data.items():
            out.append(f"{key}: {value}\n")
    return out


def _list(value: object) -> list[Json]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _word(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _time(value: object, timezone: str) -> str:
    return clock_text(float(value), timezone, TIME) if isinstance(value, int | float) else "-"


def _actuator(out: Text, data: Json, timezone: str) -> None:
    out.append(f"{data.get('id')}", style="bold")
    out.append(f" = {_word(data.get('value'))}")
    sent = f"{_word(data.get('sent'))} at {_time(data.get('sent_at'), timezone)}"
    out.append(f"  (last sent {sent})\n")
    if data.get("waiting_until") is not None:
        out.append(
            f"  the change waits for min_switch_interval until "
            f"{_time(data.get('waiting_until'), timezone)}\n",
            style="yellow",
        )
    for slot in _list(data.get("slots")):
        wins = slot.get("wins") is True
        mark = "▶ " if wins else "  "
        line = (
            f"{mark}{slot.get('slot'):>2} {slot.get('level', ''):<9} "
            f"{source_text(str(slot.get('holder', ''))):<28} {_word(slot.get('value'))}"
        )
        if slot.get("until") is not None:
            line += f" until {_time(slot.get('until'), timezone)}"
        out.append(line + "\n", style="bold" if wins else "")
        out.append(f"      {slot.get('why', '')}\n", style="dim italic")


def _instance(out: Text, data: Json, timezone: str) -> None:
    state = str(data.get("state", ""))
    out.append(f"{data.get('id')}", style="bold")
    out.append(f"  {state}", style="bold green" if state == "active" else "yellow")
    out.append(f" since {_time(data.get('since'), timezone)}  ({data.get('cause', '')})\n")
    if data.get("description"):
        out.append(f"{data['description']}\n", style="dim")
    out.append("\nwhy\n", style="bold")
    for line in data.get("why") or []:
        out.append(f"  • {line}\n")
    condition = data.get("condition")
    if isinstance(condition, dict):
        out.append(f"\n{condition.get('role', 'when')}\n", style="bold")
        _tree(out, condition, 1)
    values = data.get("values")
    if isinstance(values, dict) and values:
        out.append("\nvalues\n", style="bold")
        for name, value in values.items():
            out.append(f"  {name} = {value}\n")
    transitions = _list(data.get("transitions"))
    if transitions:
        out.append("\nlast transitions\n", style="bold")
        for t in transitions[-5:]:
            out.append(
                f"  {_time(t.get('ts'), timezone)} {t.get('from')} → {t.get('to')}: "
                f"{t.get('cause', '')}\n"
            )


def _tree(out: Text, node: Json, depth: int) -> None:
    value = node.get("value")
    style = "green" if value is True else "red" if value is False else "yellow"
    out.append("  " * depth + f"{node.get('text', '')}  ", style="")
    out.append(f"{_word(value) if not isinstance(value, bool) else str(value).lower()}\n", style)
    for part in _list(node.get("parts")):
        _tree(out, part, depth + 1)


def _rule(out: Text, data: Json, timezone: str) -> None:
    out.append(f"{data.get('id')}", style="bold")
    enabled = data.get("enabled") is not False
    out.append("" if enabled else "  DISABLED", style="bold red")
    out.append(f"  [{data.get('level', '')}]  {data.get('file', '')}\n", style="dim")
    if data.get("description"):
        out.append(f"{data['description']}\n", style="dim")
    _instances(out, _list(data.get("instances")), timezone)
    skipped = _list(data.get("skipped"))
    if skipped:
        out.append("\nskipped rooms\n", style="bold")
        for s in skipped:
            out.append(f"  {s.get('room')}: {s.get('reason')}\n")


def _instances(out: Text, instances: list[Json], timezone: str) -> None:
    out.append("\ninstances (explain one with rule@room from the room view)\n", style="bold")
    for i in instances:
        out.append(
            f"  {i.get('room', '')!s:<16} {i.get('state', '')!s:<10} "
            f"since {_time(i.get('since'), timezone)}  {i.get('cause', '')}\n"
        )
