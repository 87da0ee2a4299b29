"""When room messages go out: RoomPacing on its own (pure logic, made-up monotonic times), then
the control plane that uses it, without a broker (its ticks driven by hand), and at which QoS
the plane publishes."""

from __future__ import annotations

import asyncio
import json
import math

from bench.engine import START
from campus.types import Quality, Reading
from controller.controlplane_pacing import CATCH_UP, DRAIN, LATE, RoomPacing
from controller.events import Readings
from tests.controlplane.quiet import QuietPlane, quiet_plane
from tests.support.aio import run_async

TICK = 0.01
T0 = 1000.0


class Recorder:
    """What a pacing publishes, and whether readings wait (`waiting_after`: once this many
    rooms were published)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.waiting_after: int | None = None

    def publish(self, room_id: str) -> None:
        self.sent.append(room_id)

    def readings_waiting(self) -> bool:
        return self.waiting_after is not None and len(self.sent) >= self.waiting_after


def pacing_of(rooms: int) -> tuple[RoomPacing, Recorder, list[str]]:
    """A pacing of `rooms` rooms, all due from T0 (as after a connect), and its recorder."""
    ids = [f"b1.r{n:04d}" for n in range(rooms)]
    pacing = RoomPacing(ids, interval=1.0, period=TICK)
    pacing.restart(T0)
    return pacing, Recorder(), ids


def tick(pacing: RoomPacing, out: Recorder, now: float) -> list[str]:
    """One tick at `now`: the rooms it published."""
    before = len(out.sent)
    pacing.tick(now, out.publish, out.readings_waiting)
    return out.sent[before:]


def ticks(pacing: RoomPacing, out: Recorder, start: float, end: float) -> list[list[str]]:
    """Ticks every TICK after `start` until `end`; the rooms each one published."""
    steps = math.floor((end - start) / TICK + 1e-9)
    return [tick(pacing, out, start + n * TICK) for n in range(1, steps + 1)]


def published(pacing: RoomPacing, out: Recorder, start: float, end: float) -> list[str]:
    """The rooms the ticks between `start` and `end` published, in order."""
    return [room for slice_ in ticks(pacing, out, start, end) for room in slice_]


def test_a_campus_wide_change_goes_out_in_small_slices_within_the_interval() -> None:
    pacing, out, rooms = pacing_of(1000)
    slices = ticks(pacing, out, T0 - TICK, T0 + DRAIN + 2 * TICK)
    per_tick = math.ceil(1000 * TICK / DRAIN)
    assert per_tick == 13
    assert max(len(s) for s in slices) <= per_tick + 1, "a tick published too many rooms"
    assert sorted(out.sent) == rooms, "not every room within 0.8 s"
    assert len(out.sent) == 1000, "a room was published twice"
    assert not pacing.busy


def test_a_late_tick_publishes_for_the_time_it_missed_but_no_more_than_ten() -> None:
    pacing, out, _ = pacing_of(1000)
    tick(pacing, out, T0)
    assert 60 <= len(tick(pacing, out, T0 + 0.05)) <= 70  # five ticks late
    assert len(tick(pacing, out, T0 + 10.0)) <= CATCH_UP * 13 + 1  # the loop was stuck 10 s


def test_a_changed_room_is_published_once_its_interval_is_over_not_before() -> None:
    pacing, out, rooms = pacing_of(3)
    ticks(pacing, out, T0 - TICK, T0 + 0.1)
    assert sorted(out.sent) == rooms
    room = rooms[0]
    over = pacing.cool_until(room)
    assert over is not None
    assert over - T0 <= 1.0 + 0.1
    pacing.changed[room] = None
    within = published(pacing, out, T0 + 0.1, over - TICK / 2)
    assert within == [], "published again within the interval"
    assert published(pacing, out, over - TICK / 2, over + TICK / 2) == [room]
    assert published(pacing, out, over + TICK / 2, over + 3) == [], "again without a change"


def test_a_slice_stops_for_readings_waiting_and_the_next_tick_publishes_its_rest() -> None:
    pacing, out, rooms = pacing_of(1000)
    first = tick(pacing, out, T0)  # the first slice
    done = len(first)
    out.waiting_after = done + 3  # readings arrive during the third room
    assert tick(pacing, out, T0 + TICK) == rooms[done : done + 3]
    out.waiting_after = None  # the loop handled them
    assert tick(pacing, out, T0 + 2 * TICK) == rooms[done + 3 : done + 26], "10 left + 13"
    assert len(tick(pacing, out, T0 + 3 * TICK)) == 13, "then as usual"


def test_a_slice_gives_way_before_its_first_room_and_the_next_tick_catches_up() -> None:
    pacing, out, rooms = pacing_of(1000)
    first = tick(pacing, out, T0)
    done = len(first)
    out.waiting_after = done  # readings already wait when the tick comes
    assert tick(pacing, out, T0 + TICK) == [], "a reading waited for a room's message"
    out.waiting_after = None
    assert tick(pacing, out, T0 + 2 * TICK) == rooms[done : done + 26], "13 left + 13"


def test_under_a_flood_of_readings_rooms_wait_until_late_then_go_out_at_the_usual_pace() -> None:
    """Readings always waiting: a ready room gives way until it has waited `LATE` of the
    interval, then goes out, no more than a tick's own share a tick, however many are owed;
    every room is out within LATE + DRAIN of the interval."""
    pacing, out, rooms = pacing_of(1000)
    tick(pacing, out, T0)
    per_tick = math.ceil(1000 * TICK / DRAIN)
    out.waiting_after = 0
    counts = [len(s) for s in ticks(pacing, out, T0, T0 + LATE + DRAIN + 2 * TICK)]
    first = next(n for n, count in enumerate(counts) if count)
    assert abs((first + 1) * TICK - LATE) <= TICK, "a room went out before it was late"
    assert max(counts) <= per_tick, "a flood's tick published more than its share"
    assert sorted(out.sent) == rooms, "not every room within LATE + DRAIN"
    assert len(out.sent) == 1000


def test_an_urgent_room_goes_first_even_while_cooling() -> None:
    pacing, out, rooms = pacing_of(1000)
    ticks(pacing, out, T0 - TICK, T0 + 0.05)
    published, last = out.sent[0], rooms[-1]
    assert pacing.cool_until(published) is not None
    pacing.urgent(published)
    pacing.urgent(last)
    pacing.urgent("not.a.room")
    assert tick(pacing, out, T0 + 0.06)[:2] == [last, published]


def test_publish_all_publishes_every_room_once_and_unknown_rooms_never() -> None:
    pacing, out, rooms = pacing_of(50)
    tick(pacing, out, T0)
    pacing.changed["elsewhere.r1"] = None
    assert pacing.publish_all(T0 + TICK, out.publish) == 50
    assert sorted(out.sent[1:]) == rooms
    assert published(pacing, out, T0 + TICK, T0 + 3) == []


# -- the control plane that uses it ---------------------------------------------------------


def connect(quiet: QuietPlane) -> float:
    """The driver says it is connected; the first tick publishes what is retained. Its time."""
    quiet.driver.up = True
    quiet.plane.publish_due(T0)
    return T0


@run_async
async def test_an_override_publishes_its_room_at_the_next_tick_ahead_of_the_queue() -> None:
    quiet = await quiet_plane(1000, keep=True)
    start = connect(quiet)
    for n in range(1, 6):
        quiet.plane.publish_due(start + n * TICK)
    published = quiet.rooms_sent()[0]
    quiet.controller.override(f"{published}.lights", True, START + 3600, "alice")
    last = quiet.rooms[-1]
    quiet.controller.override(f"{last}.lights", True, START + 3600, "alice")
    sent = len(quiet.rooms_sent())
    quiet.plane.publish_due(start + 0.06)
    assert quiet.rooms_sent()[sent : sent + 2] == [last, published]


@run_async
async def test_events_go_out_at_the_next_tick_in_order_and_are_in_recent_before() -> None:
    """The events of a loop pass wait for the publisher's tick (one write with that tick's
    room messages, none between a command's write and its delivery); whoever reads `recent`
    sees them at once."""
    quiet = await quiet_plane(2, keep=True)
    plane = quiet.plane
    start = connect(quiet)
    plane.publish_due(start + TICK)
    events_topic = plane.topics.events
    sent = len(quiet.driver.published)
    before = len(plane.recent.events(100))
    for room in quiet.rooms:
        quiet.controller.override(f"{room}.lights", True, START + 3600, "alice")
    await asyncio.sleep(0)  # the loop pass is over: still nothing
    assert [s for s in quiet.driver.published[sent:] if s.topic == events_topic] == []
    raised = plane.recent.events(100)[before:]  # the defaults' first commands, then ours
    assert [type(e).__name__ for e in raised[-4:]] == ["CommandEvent", "AuditEvent"] * 2
    plane.publish_due(start + 2 * TICK)
    out = [s for s in quiet.driver.published[sent:] if s.topic == events_topic]
    assert [json.loads(s.payload)["event_id"] for s in out] == [e.event_id for e in raised]
    assert [s.qos for s in out[-4:]] == [0, 1, 0, 1]  # commands at QoS 0, audits at QoS 1
    plane.publish_due(start + 3 * TICK)
    assert len([s for s in quiet.driver.published[sent:] if s.topic == events_topic]) == len(out)


@run_async
async def test_events_give_way_to_readings_waiting_for_late_of_the_interval_at_most() -> None:
    quiet = await quiet_plane(2, keep=True)
    plane = quiet.plane
    start = connect(quiet)
    plane.publish_due(start + TICK)
    events_topic = plane.topics.events
    before = len(plane.recent.events(100))
    quiet.controller.override(f"{quiet.rooms[0]}.lights", True, START + 3600, "alice")
    raised = [e.event_id for e in plane.recent.events(100)[before:]]  # with the command's
    sent = len(quiet.driver.published)
    quiet.driver.input_after = 0  # readings wait at every tick from now on
    first = start + 2 * TICK
    for n in range(round(LATE * plane.settings.room_interval / TICK)):
        plane.publish_due(first + n * TICK)
    assert [s for s in quiet.driver.published[sent:] if s.topic == events_topic] == []
    plane.publish_due(first + LATE * plane.settings.room_interval)
    out = [s for s in quiet.driver.published[sent:] if s.topic == events_topic]
    assert [json.loads(s.payload)["event_id"] for s in out] == raised


@run_async
async def test_a_reading_marks_its_room_changed_and_its_message_says_so() -> None:
    quiet = await quiet_plane(3, keep=True)
    plane = quiet.plane
    start = connect(quiet)
    for n in range(1, 11):
        plane.publish_due(start + n * TICK)
    room = quiet.rooms[0]
    over = plane.pacing.cool_until(room)
    assert over is not None
    quiet.controller.bus.emit(Readings([[Reading(f"{room}.co2", 900.0, START + 1)]]))
    assert plane.pacing.changed == {room: None}
    sent = len(quiet.rooms_sent())
    plane.publish_due(over + TICK / 2)
    assert quiet.rooms_sent()[sent:] == [room]
    assert b'"co2":{"value":900.0,' in quiet.driver.published[-1].payload


@run_async
async def test_readings_of_rooms_it_does_not_publish_cost_nothing() -> None:
    quiet = await quiet_plane(2, keep=True)
    plane, bus = quiet.plane, quiet.controller.bus
    bus.emit(Readings([[Reading("elsewhere.r1.co2", 500.0, START)]]))
    assert plane.last("elsewhere.r1.co2") is None
    assert plane.pacing.changed == {}
    assert plane.recent.by_point == {}
    room = quiet.rooms[1]
    bus.emit(Readings([[Reading(f"{room}.lights", True, START)]]))  # a report: no history
    bus.emit(Readings([[Reading(f"{room}.co2", None, START, Quality.UNAVAILABLE)]]))
    assert plane.last(f"{room}.lights") == Reading(f"{room}.lights", True, START)
    seen = plane.last(f"{room}.co2")
    assert seen is not None
    assert seen.quality is Quality.UNAVAILABLE
    assert plane.pacing.changed == {room: None}
    assert plane.recent.by_point == {}


@run_async
async def test_retained_state_is_qos0_the_campus_and_answers_qos1() -> None:
    quiet = await quiet_plane(3, keep=True)
    start = connect(quiet)
    for n in range(1, 11):
        quiet.plane.publish_due(start + n * TICK)
    plane, base = quiet.plane, quiet.plane.topics.base
    plane.handle_request(plane.topics.request("events"), b'{"limit": 1, "transaction": 1}')
    qos = {(s.topic.removeprefix(base + "/"), s.qos, s.retain) for s in quiet.driver.published}
    rooms = {(f"room/b1/r{n:04d}", 0, True) for n in range(3)}
    assert rooms <= qos
    assert {
        ("campus", 1, True),
        ("controller", 0, True),
        ("alarms", 0, True),
        ("rules", 0, True),
        ("response/events", 1, False),
    } <= qos
    assert len(qos) == len(rooms) + 5


@run_async
async def test_stopping_publishes_every_room_at_once() -> None:
    quiet = await quiet_plane(1000, keep=True)
    start = connect(quiet)
    for n in range(1, 6):
        quiet.plane.publish_due(start + n * TICK)
    sent = len(quiet.rooms_sent())
    await quiet.plane.stop()
    assert sorted(quiet.rooms_sent()[sent:]) == sorted(quiet.rooms)
    base = quiet.plane.topics.base
    for message in quiet.driver.published[sent:]:
        assert message.retain
        assert message.qos == (1 if message.topic == f"{base}/campus" else 0), message.topic


@run_async
async def test_a_minute_keeps_its_last_good_value_and_ends_when_the_next_one_starts() -> None:
    """The minute series are folded from the last readings (ControlPlane._fold): a reading of a
    new minute writes the old minute's last value, and an unavailable reading does not erase
    the good one before it."""
    quiet = await quiet_plane(2, keep=True)
    plane, bus = quiet.plane, quiet.controller.bus
    room = quiet.rooms[1]
    co2, temperature = f"{room}.co2", f"{room}.temperature"
    minute = (START // 60 + 1) * 60  # the start of a clock minute
    bus.emit(Readings([[Reading(co2, 700.0, minute + 1)], [Reading(co2, 900.0, minute + 30)]]))
    bus.emit(Readings([[Reading(co2, None, minute + 50, Quality.UNAVAILABLE)]]))
    bus.emit(Readings([[Reading(temperature, 21.0, minute + 59)]]))
    bus.emit(Readings([[Reading(temperature, 22.0, minute + 61)]]))
    assert plane.recent.series(co2, minute + 61)[-2:] == [900.0, None]
    assert plane.recent.series(temperature, minute + 61)[-2:] == [21.0, None]  # not folded yet
    assert plane.series(temperature, minute + 61)[-2:] == [21.0, 22.0]
    bus.emit(Readings([[Reading(co2, 600.0, minute + 125)]]))
    assert plane.series(co2, minute + 125)[-3:] == [900.0, None, 600.0]
