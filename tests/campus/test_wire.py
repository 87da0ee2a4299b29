"""The control plane's wire contract (campus/wire.py): what a real controller publishes matches
its JSON Schemas, every type survives encode and decode, decoding forgives what an older or
newer controller sends, and the shipped schema file and docs/mqtt.md say what the module says."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campus import wire
from campus.yamlmodel import json_schema
from tests.controlplane.harness import PlaneClient, running_campus, unique_site
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = wire.schemas()


def validator(tp: Any) -> jsonschema.Draft202012Validator:
    """A validator of one payload type against the shipped definitions."""
    name = getattr(tp, "__name__", None)
    ref = {"$ref": f"#/$defs/{name}"} if name else json_schema(tp, {})
    return jsonschema.Draft202012Validator({**ref, "$defs": SCHEMAS["$defs"]})


def test_the_schema_file_and_the_docs_say_what_the_module_says() -> None:
    """`python -m campus.wire` rewrites both; this fails when someone changes a type without."""
    shipped = json.loads((ROOT / wire.SCHEMA_FILE).read_text())
    assert shipped == SCHEMAS, "docs/controlplane.schema.json is stale: python -m campus.wire"
    doc = (ROOT / "docs" / "mqtt.md").read_text()
    start = doc.index(wire.FIELDS_BEGIN) + len(wire.FIELDS_BEGIN)
    table = doc[start : doc.index(wire.FIELDS_END)]
    assert table == "\n" + wire.markdown_fields(), "docs/mqtt.md is stale: python -m campus.wire"
    jsonschema.Draft202012Validator.check_schema(SCHEMAS)


def test_every_topic_of_the_contract_has_its_payload_schema() -> None:
    for kind in wire.MESSAGES:
        pattern = wire.topic_pattern(kind)
        assert pattern in SCHEMAS["topics"], pattern
        assert wire.parse_topic(pattern.replace("<site>", "s")) is not None


@run_async
async def test_what_a_running_controller_publishes_matches_the_contract(
    broker: Broker, tmp_path: Path
) -> None:
    """Every retained message, event and answer of a controller running the demo campus (with
    an alarm rule) validates against its topic's schema and decodes to the same JSON."""
    site = unique_site()
    client = PlaneClient(broker, site)  # subscribed before the start-up's events go out
    async with running_campus(broker, tmp_path, site=site):
        try:
            await wait_for(lambda: client.latest("alarms"), "the alarm list")
            await wait_for(lambda: client.on("events"), "an event")
            await wait_for(
                lambda: any(t.startswith(f"{client.base}/room/") for t in client.retained),
                "a room",
            )
            await client.request("explain", {"target": "main.r101.lights"})
            await client.request("trends", {"room": "main.r101"})
            await client.request("events", {"limit": 20})
            await client.request(
                "override",
                {"actuator": "main.r101.lights", "value": "on", "duration": "5m", "user": "t"},
            )
            await wait_for(
                lambda: {"audit", "command"} <= {e["type"] for e in client.on("events")},
                "the audit and the command of the override",
            )
            with client._lock:
                messages = list(client.messages)
        finally:
            client.close()
    seen: set[str] = set()
    event_ids: set[str] = set()
    for topic, payload in messages:
        parsed = wire.parse_topic(topic)
        assert parsed is not None, topic
        if parsed.kind in (wire.Kind.STATUS, wire.Kind.REQUEST) or not payload:
            continue
        data = json.loads(payload)
        if parsed.kind is wire.Kind.EVENTS:
            event = wire.decode_event(data)
            assert event is not None, data
            assert event.event_id, data
            assert event.event_id not in event_ids, data
            event_ids.add(event.event_id)
            seen.add(event.type)
            assert json.loads(wire.encode(event)) == data
        else:
            tp = wire.MESSAGES[parsed.kind]
            assert json.loads(wire.encode(wire.decode(tp, data))) == data, topic
        validator(wire.MESSAGES[parsed.kind]).validate(data)
        seen.add(parsed.kind.value)
        if parsed.kind is wire.Kind.RESPONSE and parsed.rest in ("events", "trends"):
            answer = wire.EventsAnswer if parsed.rest == "events" else wire.TrendsAnswer
            validator(answer).validate(data["data"])
    expected = {"controller", "campus", "room", "alarms", "rules", "events", "response"}
    assert expected <= seen
    assert {"command", "alarm", "audit"} <= seen


# -- encode and decode --------------------------------------------------------------------------

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
TEXT = st.text(max_size=8)


def values(tp: Any) -> st.SearchStrategy[Any]:
    """Any value of `tp` that JSON can carry (finite floats)."""
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = {f.name: values(hints[f.name]) for f in dataclasses.fields(tp)}
        return st.builds(tp, **fields)
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([values(a) for a in args])
    if origin is list:
        return st.lists(values(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(TEXT, values(args[1]), max_size=3)
    if origin is tuple:
        return st.tuples(*(values(a) for a in args))
    if tp is Any:
        return st.none() | FINITE | TEXT
    scalars: dict[Any, st.SearchStrategy[Any]] = {
        str: TEXT,
        int: st.integers(-(2**53), 2**53),
        float: FINITE,
        bool: st.booleans(),
        type(None): st.none(),
    }
    return scalars[tp]


MESSAGE_TYPES = sorted(
    {tp for tp in wire.MESSAGES.values() if isinstance(tp, type)}
    | {wire.EventsAnswer, wire.TrendsAnswer},
    key=lambda tp: tp.__name__,
)


@pytest.mark.parametrize("tp", MESSAGE_TYPES, ids=lambda tp: tp.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_message_survives_encode_and_decode(tp: Any, data: st.DataObject) -> None:
    message = data.draw(values(tp))
    encoded = json.loads(wire.encode(message))
    validator(tp).validate(encoded)
    assert wire.decode(tp, encoded) == message


@settings(max_examples=100, deadline=None)
@given(event=values(wire.Event))
def test_every_event_survives_encode_and_decode(event: wire.Event) -> None:
    assert wire.decode_event(json.loads(wire.encode(event))) == event


def test_decoding_forgives_missing_mistyped_and_unknown_fields() -> None:
    room = wire.decode(
        wire.RoomState,
        {
            "room": "main.r101",
            "added_by_a_newer_controller": {"x": 1},
            "points": {"co2": {"value": 845, "quality": 3}, "bad": "not an object"},
            "actuators": {"lights": {"value": True, "holders": [{"slot": 8}, 5, None]}},
            "rules": [1, {"rule": "r", "since": "yesterday"}],
        },
    )
    assert room.ts == 0.0
    assert room.points == {
        "co2": wire.PointState(value=845.0, unit="", ts=None, age=None, quality="none")
    }
    lights = room.actuators["lights"]
    assert lights.online is True
    assert lights.slot == 17
    assert [h.slot for h in lights.holders] == [8]
    assert lights.winner == lights.holders[0]
    assert room.rules == [wire.InstanceState(rule="r", state="", since=None, cause="")]
    assert wire.decode(wire.ActuatorSpec, {"range": [0, 254, 3]}).range == (0.0, 100.0)
    assert wire.decode(wire.Alarm, "not an object").severity == "warning"
    assert wire.decode(wire.ControllerMessage, {"speed": True}).speed == 1.0
    assert wire.decode_event({"type": "gossip"}) is None
    assert wire.decode_event({"type": "audit", "who": "alice"}) == wire.AuditEvent(
        event_id="", ts=0.0, who="alice", action="", detail=""
    ), "an event from a controller too old to give ids has the id ''"


def test_topics_are_built_and_parsed_by_the_same_module() -> None:
    topics = wire.Topics("demo")
    assert topics.room("main", "r101") == "campusctl/demo/room/main/r101"
    assert wire.parse_topic(topics.room("main", "r101")) == wire.Topic(
        "demo", wire.Kind.ROOM, "main/r101"
    )
    assert wire.parse_topic("campusctl/demo/alarms/b1") == wire.Topic(
        "demo", wire.Kind.ALARMS, "b1"
    )
    assert wire.parse_topic("zigbee2mqtt/x") is None
    assert wire.parse_topic("campusctl/demo/nonsense") is None


# -- several shards, one site -----------------------------------------------------------------


def rule(rule_id: str, rooms: list[str], states: dict[str, int], ts: list[float]) -> wire.RuleInfo:
    transitions = [
        wire.TransitionEvent(
            event_id=f"t{t}",
            ts=t,
            rule=rule_id,
            room=rooms[0],
            old_state="a",
            new_state="b",
            cause="",
        )
        for t in ts
    ]
    return wire.RuleInfo(
        id=rule_id,
        description="",
        level="comfort",
        priority=10,
        enabled=True,
        rooms=rooms,
        skipped=[],
        sets=["lights"],
        alarm=None,
        states=states,
        transitions=transitions,
        file="r.yaml:1:1",
    )


def test_shards_rules_merge_into_the_sites() -> None:
    b1 = wire.RulesMessage(
        rules=[rule("lights", ["b1.r1", "b1.r2"], {"active": 2}, [1.0, 5.0, 9.0])],
        problems=["r.yaml:3:1: a warning"],
    )
    disabled = rule("lights", ["b2.r1"], {"active": 1, "inactive": 0}, [2.0, 3.0, 4.0])
    disabled.enabled = False
    b2 = wire.RulesMessage(
        rules=[disabled, rule("fans", ["b2.r1"], {"inactive": 1}, [])],
        problems=["r.yaml:3:1: a warning"],
    )
    merged = wire.merge_rules([b1, b2])
    assert [r.id for r in merged.rules] == ["lights", "fans"]
    lights = merged.rules[0]
    assert lights.rooms == ["b1.r1", "b1.r2", "b2.r1"]
    assert lights.states == {"active": 3, "inactive": 0}
    assert [t.ts for t in lights.transitions] == [2.0, 3.0, 4.0, 5.0, 9.0], "the newest, in order"
    assert lights.enabled is False
    assert merged.problems == ["r.yaml:3:1: a warning"]
    assert b1.rules[0].states == {"active": 2}, "merging changed a shard's own message"


def controller(shard: str, rooms: int, now: float) -> wire.ControllerMessage:
    return wire.ControllerMessage(
        site="s",
        shard=shard,
        name="School",
        timezone="Europe/Oslo",
        now=now,
        speed=1.0,
        started=now - 100,
        rooms=rooms,
        rules=3,
        readings=10 * rooms,
        commands=rooms,
        heartbeat=5.0,
    )


def test_shards_controllers_merge_into_the_sites() -> None:
    merged = wire.merge_controllers([controller("b1", 2, 50.0), controller("b2", 3, 60.0)])
    assert merged is not None
    assert (merged.shard, merged.rooms, merged.readings, merged.now, merged.started) == (
        "",
        5,
        50,
        60.0,
        -50.0,
    )
    assert wire.merge_controllers([]) is None


def test_a_site_with_one_shard_offline_is_not_online() -> None:
    from tui.state import SiteState

    site = SiteState("s")
    topics = {name: wire.Topics("s", name) for name in ("b1", "b2")}
    for name, t in topics.items():
        site.apply(t.status, "online")
        site.apply(t.controller, json.loads(wire.encode(controller(name, 2, 10.0))))
    assert site.online is True
    site.apply(topics["b2"].status, "offline")
    assert site.online is False
    assert site.offline_shards == ["b2"]
    assert site.controller is not None
    assert site.controller.rooms == 4


def test_shards_kpis_add_up_to_the_sites() -> None:
    def kpi(shard: str, minutes: int, good: int, worst: float | None) -> wire.KpiMessage:
        return wire.KpiMessage(
            site="s", shard=shard, ts=60.0, day="2026-12-07", rooms=2, area_m2=120.0,
            rooms_in_use=1,
            occupied_minutes=minutes, co2_minutes=minutes, co2_within_1000_minutes=good,
            co2_within_1400_minutes=minutes, co2_within_1000=wire.share(good, minutes),
            co2_within_1400=1.0, worst_room=f"{shard}.r1" if worst else None, worst_co2=worst,
            temperature_minutes=0, temperature_comfort_minutes=0, temperature_comfort=None,
            alarms={"warning": 1}, alarms_unacknowledged=1, overrides=0, overrides_over_4h=0,
            lights_kwh=1.5, ventilation_kwh=0.5, outside_timetable_kwh=0.25,
            lights_kwh_last_week=None if shard == "b2" else 1.0, ventilation_kwh_last_week=0.5,
            uptime_s=100.0,
        )  # fmt: skip

    merged = wire.merge_kpis([kpi("b1", 60, 60, 900.0), kpi("b2", 180, 90, 1300.0)])
    assert merged is not None
    assert (merged.rooms, merged.occupied_minutes, merged.co2_within_1000) == (4, 240, 0.625)
    assert merged.area_m2 == 240.0
    assert (merged.worst_room, merged.worst_co2) == ("b2.r1", 1300.0)
    assert merged.alarms == {"warning": 2}
    assert merged.lights_kwh == 3.0
    assert merged.lights_kwh_last_week is None, "one shard does not know last week"
    assert merged.ventilation_kwh_last_week == 1.0
    assert merged.temperature_comfort is None
