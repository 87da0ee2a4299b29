"""`explain`: why an actuator has its value, and why a rule instance is (not) active.

The answer is plain JSON-serialisable data, so the same dict travels over the control plane,
is shown by the TUI and is printed by `campusctl rules explain` (`render`). For a condition it
walks the compiled expression tree and evaluates every `and`/`or`/`not` part on the instance's
live values, which is how it can say *which* sub-condition is false or unknown; a hold that was
reset is found in the instance's last transitions with the reading that broke it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from campus.problems import CampusError
from rules.arbiter import slot_name
from rules.compiled import Node
from rules.expr import Expression
from rules.instance import Instance, PointState, State
from rules.values import UNKNOWN, Val, format_value

if TYPE_CHECKING:
    from rules.engine import Engine

Data = dict[str, object]


def explain(engine: Engine, target: str) -> Data:
    """An actuator id, a room id, a rule id, or ``rule-id@room-id``; CampusError otherwise."""
    if target in engine.actuator_ids():
        return explain_actuator(engine, target)
    rule_id, _, room_id = target.partition("@")
    if room_id:
        found = engine.live_instances(rule_id, room_id)
        if not found:
            raise CampusError(f"no instance {target!r}: {_what_is_wrong(engine, rule_id, room_id)}")
        return explain_instance(engine, found[0])
    if rule_id in engine.rule_ids():
        return explain_rule(engine, rule_id)
    rooms = {room.id for room in engine.campus.rooms}
    if target in rooms:
        return explain_room(engine, target)
    names = [*engine.actuator_ids(), *engine.rule_ids(), *rooms]
    import difflib

    close = difflib.get_close_matches(target, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise CampusError(
        f"nothing called {target!r}{hint}: give an actuator (b1.r101.lights), a room (b1.r101), "
        "a rule id, or rule-id@room"
    )


def _what_is_wrong(engine: Engine, rule_id: str, room_id: str) -> str:
    if rule_id not in engine.rule_ids():
        return f"there is no rule {rule_id!r}"
    rule = next(r for r in engine.rules if r.id == rule_id)
    skipped = next((s for s in rule.skipped if s.room == room_id), None)
    if skipped is not None:
        return f"rule {rule_id} skips {room_id}: {skipped.reason}"
    return f"rule {rule_id} does not cover {room_id}"


def explain_actuator(engine: Engine, actuator_id: str) -> Data:
    arbiter = engine.arbiter(actuator_id)
    slots: list[Data] = []
    for holder in arbiter.holders():
        slots.append(
            {
                "slot": holder.slot,
                "level": slot_name(holder.slot),
                "holder": holder.source,
                "value": holder.value,
                "since": holder.since,
                "until": holder.until,
                "why": holder.reason,
                "wins": holder is arbiter.winner,
            }
        )
    return {
        "kind": "actuator",
        "id": actuator_id,
        "value": arbiter.value,
        "sent": arbiter.last_sent,
        "sent_at": arbiter.last_sent_at,
        "waiting_until": arbiter.deadline,
        "slots": slots,
        "now": engine.now,
    }


def explain_room(engine: Engine, room_id: str) -> Data:
    room = engine.campus.room(room_id)
    return {
        "kind": "room",
        "id": room_id,
        "actuators": [explain_actuator(engine, a.id) for a in room.actuators.values()],
        "instances": [_brief(i) for i in engine.live_instances(room_id=room_id)],
        "now": engine.now,
    }


def explain_rule(engine: Engine, rule_id: str) -> Data:
    rule = next(r for r in engine.rules if r.id == rule_id)
    instances = engine.live_instances(rule_id)
    if len(instances) == 1:
        return explain_instance(engine, instances[0])
    return {
        "kind": "rule",
        "id": rule_id,
        "description": rule.description,
        "file": str(rule.pos),
        "priority": rule.priority,
        "level": rule.level,
        "enabled": rule_id not in engine.disabled,
        "instances": [_brief(i) for i in instances],
        "skipped": [{"room": s.room, "reason": s.reason} for s in rule.skipped],
        "now": engine.now,
    }


def _brief(instance: Instance) -> Data:
    return {
        "id": f"{instance.rule.id}@{instance.room}",
        "room": instance.room,
        "state": instance.state.value if instance.enabled else "disabled",
        "since": instance.since,
        "cause": instance.cause,
    }


def explain_instance(engine: Engine, instance: Instance) -> Data:
    rule = instance.rule
    env = instance.env
    active = instance.state in (State.ACTIVE, State.RELEASING)
    condition = rule.until if active else rule.when
    tree = condition_tree(condition, env)
    return {
        "kind": "instance",
        "id": f"{rule.id}@{instance.room}",
        "rule": rule.id,
        "room": instance.room,
        "file": str(rule.pos),
        "description": rule.description,
        "level": rule.level,
        "priority": rule.priority,
        "enabled": instance.enabled,
        "state": instance.state.value,
        "since": instance.since,
        "cause": instance.cause,
        "hold_until": instance.hold_until,
        "condition": {"role": "until" if active else "when", **tree},
        "values": _values(instance, engine.tz),
        "writes": dict(instance.written),
        "transitions": [
            {"ts": ts, "from": old.value, "to": new.value, "cause": cause}
            for ts, old, new, cause in instance.history or []
        ],
        "why": why(instance, tree, lambda t: _at(t, engine.tz)),
        "now": engine.now,
    }


def condition_tree(expression: Expression, env: object) -> Data:
    """The expression's value and, for and/or/not, each part's value, recursively."""
    node = expression.tree
    if node is None:
        return {"text": expression.text, "value": _json(expression.evaluate(env))}  # type: ignore[arg-type]
    return _node(node, env)


def _node(node: Node, env: object) -> Data:
    value = node.fn(env)  # type: ignore[arg-type]
    data: Data = {"text": node.source, "value": _json(value)}
    if node.op:
        data["op"] = node.op
        data["parts"] = [_node(part, env) for part in node.parts]
    return data


def blockers(tree: Data, want: bool = True) -> list[Data]:
    """The leaves that keep `tree` from being `want`: false or unknown parts of an `and`,
    every part of an `or` (all of them must change for it to be true), through `not`."""
    value = tree["value"]
    if value is want:
        return []
    op = tree.get("op")
    parts = tree.get("parts")
    if not isinstance(parts, list) or not op:
        return [tree]
    if op == "not":
        return blockers(parts[0], not want)
    return [leaf for part in parts for leaf in blockers(part, want)]


def why(instance: Instance, tree: Data, at: Callable[[float | None], str]) -> list[str]:
    """One sentence per reason, most useful first."""
    rule = instance.rule
    if not instance.enabled:
        return [f"rule {rule.id} is disabled ({instance.cause})"]
    state = instance.state
    active = state is State.ACTIVE or state is State.RELEASING
    role = "until" if active else "when"
    held = rule.until_for if active else rule.hold
    timed = state is State.PENDING or state is State.RELEASING
    lines: list[str] = []
    if active:
        lines.append(f"active since {at(instance.active_since)}")
    missing = blockers(tree)
    for leaf in missing:
        verdict = f"`{leaf['text']}` is {_word(leaf['value'])}"
        lines.append(f"it stays active: {verdict}" if active else f"not active: {verdict}")
    if timed and instance.hold_done:
        lines.append(
            f"the {held:g}s hold is over, but `{role}` is unknown: the next known value decides"
        )
    elif timed and not missing:
        lines.append(
            f"`{role}` is true and must stay true {held:g}s: until {at(instance.hold_until)}"
        )
    elif timed:
        lines.append(
            f"the {held:g}s hold runs on until {at(instance.hold_until)} (on_unknown: hold)"
        )
    elif not active and not missing:
        lines.append("`when` is true: the rule activates on the next evaluation")
    for ts, old, new, cause in reversed(instance.history or []):
        if old is State.PENDING and new is State.INACTIVE:
            lines.append(f"the `for: {rule.hold:g}s` hold was reset at {at(ts)}: {cause}")
            break
        if old is State.RELEASING and new is State.ACTIVE:
            lines.append(
                f"the `until_for: {rule.until_for:g}s` hold was reset at {at(ts)}: {cause}"
            )
            break
    return lines


def _values(instance: Instance, tz: tzinfo) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, cell in instance.env.cells.items():
        if isinstance(cell, PointState):
            text = format_value(cell.value, cell.spec.unit)
            if cell.last_seen is not None:
                text += f" (seen {_at(cell.last_seen, tz)})"
            out[name] = text
        else:
            out[name] = format_value(cell.value, cell.arbiter.spec.unit)
    return out


def _json(value: Val) -> object:
    return None if value is UNKNOWN else value


def _word(value: object) -> str:
    if value is None:
        return "unknown"
    return "true" if value is True else "false" if value is False else str(value)


def _at(t: float | None, tz: tzinfo) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M:%S")
