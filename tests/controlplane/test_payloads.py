"""The cheaper room messages, minute series and rules summary say exactly what the plain
versions said: each is checked against a reference, the code as it was before it was made
cheaper, over random readings, reports, overrides and times."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from array import array
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.engine import START
from campus import wire
from campus.model import ActuatorType, Campus, Room, ValueType
from campus.types import Quality, Reading
from controller.controlplane_payloads import Seen, point_quality, rules_message
from controller.controlplane_recent import MinuteSeries, Recent
from rules.arbiter import slot_name
from rules.engine import Engine
from rules.values import UNKNOWN
from tests.controlplane.harness import EXAMPLES, site_campus
from tests.controlplane.quiet import QuietPlane, quiet_plane

# -- the references: the plain code, as it was --------------------------------------------------


def reference_json_value(value: object) -> Any:
    if value is UNKNOWN or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def reference_room_payload(
    room: Room, engine: Engine, last: dict[str, Seen], now: float
) -> dict[str, Any]:
    points: dict[str, Any] = {}
    for name, spec in room.points.items():
        seen = last.get(spec.id)
        points[name] = {
            "value": reference_json_value(seen.value) if seen is not None else None,
            "unit": spec.unit,
            "ts": seen.ts if seen is not None else None,
            "age": round(now - seen.ts, 1) if seen is not None else None,
            "quality": point_quality(spec, seen, now),
        }
    actuators: dict[str, Any] = {}
    for name, actuator in room.actuators.items():
        holders = engine.holders(actuator.id)
        winner = holders[0]
        reported = last.get(actuator.id)
        actuators[name] = {
            "value": reference_json_value(engine.actuator_value(actuator.id)),
            "unit": actuator.unit,
            "reported": reference_json_value(reported.value) if reported is not None else None,
            "reported_ts": reported.ts if reported is not None else None,
            "online": reported is None or reported.quality is Quality.GOOD,
            "source": winner.source,
            "slot": winner.slot,
            "level": slot_name(winner.slot),
            "reason": winner.reason,
            "since": winner.since,
            "until": winner.until,
            "holders": [
                {
                    "slot": h.slot,
                    "level": slot_name(h.slot),
                    "value": reference_json_value(h.value),
                    "source": h.source,
                    "reason": h.reason,
                    "since": h.since,
                    "until": h.until,
                }
                for h in holders
            ],
        }
    instances = [
        {"rule": i.rule, "state": i.state.value, "since": i.since, "cause": i.cause}
        for i in engine.instances(room_id=room.id)
    ]
    return {
        "room": room.id,
        "ts": now,
        "points": points,
        "actuators": actuators,
        "rules": instances,
    }


def reference_states(engine: Engine, rule_id: str) -> dict[str, int]:
    states: dict[str, int] = {}
    for info in engine.instances(rule_id=rule_id):
        states[info.state.value] = states.get(info.state.value, 0) + 1
    return states


class ReferenceSeries:
    """MinuteSeries before its same-minute shortcut."""

    def __init__(self, minutes: int) -> None:
        self.values = array("d", [math.nan] * minutes)
        self.last = -1

    def add(self, ts: float, value: float) -> None:
        minute = int(ts // 60.0)
        size = len(self.values)
        if minute == self.last:
            self.values[minute % size] = value
            return
        if minute < self.last:
            if self.last - minute < size:
                self.values[minute % size] = value
            return
        gap = min(minute - self.last, size + 1) if self.last >= 0 else size + 1
        for skipped in range(1, gap):
            self.values[(minute - skipped) % size] = math.nan
        self.values[minute % size] = value
        self.last = minute

    def window(self, now: float) -> list[float | None]:
        size = len(self.values)
        end = int(now // 60.0)
        out: list[float | None] = []
        for minute in range(end - size + 1, end + 1):
            if minute > self.last or self.last - minute >= size:
                out.append(None)
                continue
            value = self.values[minute % size]
            out.append(None if math.isnan(value) else value)
        return out


def dumps(payload: dict[str, Any]) -> str:
    """How the control plane spelled a room's JSON before (json.dumps, ASCII, no NaN)."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


# -- the campuses ---------------------------------------------------------------------------------

_PLANES: dict[str, QuietPlane] = {}
_SERIES: dict[str, dict[str, ReferenceSeries]] = {}
"""Per campus, the reference minute series of every point read so far."""


def plane_of(name: str) -> QuietPlane:
    """`bench`: 3 classrooms of bench.engine (°C, five rules each); `demo`: examples/."""
    if name not in _PLANES:
        if name == "bench":
            made = quiet_plane(3)
        else:
            campus = site_campus("payloads")
            made = quiet_plane(campus=campus, rules=[EXAMPLES / "rules"])
        _PLANES[name] = asyncio.run(made)
        _SERIES[name] = {}
    return _PLANES[name]


def campus_of(quiet: QuietPlane) -> Campus:
    return quiet.controller.campus


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-3, max_value=1e-3),  # spelled differently by orjson and json
    st.floats(min_value=0, max_value=3000),
    st.integers(min_value=-(2**31), max_value=2**31),
)
step = st.tuples(
    st.integers(min_value=0, max_value=10_000),  # which point or actuator (modulo)
    st.one_of(numbers, st.booleans(), st.none()),
    st.one_of(  # seconds since the previous step; -1: to the start of the next minute
        st.floats(min_value=0, max_value=900), st.just(-1.0), st.just(-1.0)
    ),
    st.sampled_from(["reading", "reading", "reading", "report", "override"]),
)


def apply(
    quiet: QuietPlane, steps: list[tuple[int, Any, float, str]]
) -> dict[str, ReferenceSeries]:
    """Feed the steps to the controller (and so to its control plane); the reference minute
    series of the points read so far."""
    campus, controller, clock = campus_of(quiet), quiet.controller, quiet.clock
    series = next(s for name, s in _SERIES.items() if _PLANES[name] is quiet)
    points = [p for room in campus.rooms for p in room.points.values()]
    actuators = [a for room in campus.rooms for a in room.actuators.values()]
    for which, raw, dt, kind in steps:
        value = raw
        if dt < 0:
            clock.set((clock.now() // 60 + 1) * 60)
        else:
            clock.advance(dt)
        now = clock.now()
        if kind == "reading":
            spec = points[which % len(points)]
            if spec.type is ValueType.BOOL and not isinstance(value, bool | None):
                value = bool(which % 2)
            quality = Quality.GOOD if value is not None else Quality.UNAVAILABLE
            controller.handle([[Reading(spec.id, value, now, quality)]])
            if value is not None:
                reference = series.setdefault(spec.id, ReferenceSeries(60))
                reference.add(now, float(value))
        elif kind == "report":
            target = actuators[which % len(actuators)]
            quality = Quality.GOOD if value is not None else Quality.UNAVAILABLE
            controller.handle([[Reading(target.id, value, now, quality)]])
        else:
            target = actuators[which % len(actuators)]
            if target.type is ActuatorType.SWITCH:
                held: float | bool = bool(which % 2)
            else:
                low, high = target.range
                held = low + (high - low) * (which % 101) / 100
            controller.override(target.id, held, now + 60 + which, "alice")
    return series


@pytest.mark.parametrize("name", ["bench", "demo"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(step, max_size=40),
    later=st.floats(min_value=0, max_value=1800),
)
def test_room_messages_say_what_the_plain_payload_said(
    name: str, steps: list[tuple[int, Any, float, str]], later: float
) -> None:
    quiet = plane_of(name)
    series = apply(quiet, steps)
    plane, engine = quiet.plane, quiet.controller.engine
    now = quiet.clock.now() + later
    for point, reference_series in series.items():
        assert plane.series(point, now) == reference_series.window(now)
    for room in campus_of(quiet).rooms:
        ids = [s.id for s in room.points.values()] + [a.id for a in room.actuators.values()]
        last = {i: seen for i in ids if (seen := plane.last(i)) is not None}
        reference = reference_room_payload(room, engine, last, now)
        payload = json.loads(plane.room_message(room.id, now))
        assert dumps(payload) == dumps(reference)  # same values, same key order
        assert_shaped_as(wire.RoomState, payload)


def assert_shaped_as(message_type: type, payload: dict[str, Any]) -> None:
    """A room message has the wire contract's fields, in their order, at every level."""
    assert list(payload) == [f.name for f in dataclasses.fields(message_type)]
    if message_type is wire.RoomState:
        for point in payload["points"].values():
            assert_shaped_as(wire.PointState, point)
        for actuator in payload["actuators"].values():
            assert_shaped_as(wire.ActuatorState, actuator)
            for holder in actuator["holders"]:
                assert_shaped_as(wire.HolderState, holder)
        for instance in payload["rules"]:
            assert_shaped_as(wire.InstanceState, instance)


def test_a_room_message_is_json_with_unicode_as_utf8() -> None:
    quiet = plane_of("bench")
    message = quiet.plane.room_message(quiet.rooms[0], quiet.clock.now())
    assert '"unit":"°C"'.encode() in message
    assert json.loads(message)["points"]["temperature"]["unit"] == "°C"


@pytest.mark.parametrize("name", ["bench", "demo"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, max_size=40))
def test_the_rules_summary_counts_states_as_before(
    name: str, steps: list[tuple[int, Any, float, str]]
) -> None:
    quiet = plane_of(name)
    apply(quiet, steps)
    engine = quiet.controller.engine
    summary = rules_message(engine.rules, engine, engine.disabled, {}, [])
    for rule, entry in zip(engine.rules, summary.rules, strict=True):
        assert entry.id == rule.id
        assert json.dumps(entry.states) == json.dumps(reference_states(engine, rule.id))


@settings(max_examples=300, deadline=None)
@given(
    minutes=st.integers(min_value=1, max_value=70),
    readings=st.lists(
        st.tuples(
            st.one_of(  # seconds from the start, any order, minute boundaries included
                st.floats(min_value=-200, max_value=6000),
                st.integers(min_value=-3, max_value=100).map(lambda minute: minute * 60.0),
            ),
            st.one_of(st.floats(allow_nan=False), st.booleans()),
        ),
        max_size=60,
    ),
)
@example(minutes=60, readings=[(0.0, 1.0), (60.0, 2.0), (59.9, 3.0), (120.0, True)])
def test_minute_series_keep_what_they_kept_before(
    minutes: int, readings: list[tuple[float, float | bool]]
) -> None:
    series, reference, recent = MinuteSeries(minutes), ReferenceSeries(minutes), Recent(minutes)
    t0 = START
    for offset, value in readings:
        ts = t0 + offset
        series.add(ts, value)
        reference.add(ts, float(value))
        recent.add_reading("b1.r1.co2", ts, value)
        assert series.last == reference.last
        same = [
            a == b or (math.isnan(a) and math.isnan(b))
            for a, b in zip(series.values, reference.values, strict=True)
        ]
        assert all(same)
        end = t0 + max(o for o, _ in readings) + 30
        assert series.window(end) == recent.series("b1.r1.co2", end)
