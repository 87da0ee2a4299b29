"""How the control plane paces room messages and at which QoS it publishes, without a broker:
the plane's ticks are driven by hand with made-up monotonic times."""

from __future__ import annotations

import math

from bench.engine import START
from campus.types import Quality, Reading
from controller.controlplane import DRAIN
from controller.events import Readings
from tests.controlplane.quiet import QuietPlane, quiet_plane
from tests.support.aio import run_async


def connect(quiet: QuietPlane) -> float:
    """The driver says it is connected; the first tick publishes what is retained. Its time
    (when it looked at the rooms: the ticks that follow count from there)."""
    quiet.driver.up = True
    quiet.plane._publish_due()
    return quiet.plane._sliced_at


def tick_until(quiet: QuietPlane, start: float, end: float) -> list[list[str]]:
    """Ticks every `tick` after `start` until `end`; the rooms each one published."""
    tick = quiet.plane.settings.tick
    slices = []
    for n in range(1, math.floor((end - start) / tick + 1e-9) + 1):
        before = len(quiet.rooms_sent())
        quiet.plane._publish_rooms(start + n * tick)
        slices.append(quiet.rooms_sent()[before:])
    return slices


@run_async
async def test_a_campus_wide_change_goes_out_in_small_slices_within_the_interval() -> None:
    quiet = await quiet_plane(1000, keep=True)
    settings = quiet.plane.settings
    start = connect(quiet)
    slices = tick_until(quiet, start, start + DRAIN * settings.room_interval + 2 * settings.tick)
    per_tick = math.ceil(1000 * settings.tick / (DRAIN * settings.room_interval))
    assert per_tick == 13
    assert max(len(s) for s in slices) <= per_tick + 1, "a tick published too many rooms"
    assert sorted(quiet.rooms_sent()) == sorted(quiet.rooms), "not every room within 0.8 s"
    assert len(quiet.rooms_sent()) == 1000, "a room was published twice"


@run_async
async def test_a_late_tick_publishes_for_the_time_it_missed_but_no_more_than_ten() -> None:
    quiet = await quiet_plane(1000, keep=True)
    start = connect(quiet)
    before = len(quiet.rooms_sent())
    quiet.plane._publish_rooms(start + 0.05)  # five ticks late
    assert 60 <= len(quiet.rooms_sent()) - before <= 70
    before = len(quiet.rooms_sent())
    quiet.plane._publish_rooms(start + 10.0)  # the loop was stuck for 10 s
    assert len(quiet.rooms_sent()) - before <= 10 * 13 + 1


@run_async
async def test_a_changed_room_is_published_once_its_interval_is_over_not_before() -> None:
    quiet = await quiet_plane(3, keep=True)
    plane, tick = quiet.plane, quiet.plane.settings.tick
    start = connect(quiet)
    tick_until(quiet, start, start + 0.1)
    assert sorted(quiet.rooms_sent()) == sorted(quiet.rooms)
    room = quiet.rooms[0]
    over = plane._cool_until[room]  # its first message + room_interval
    assert over - start <= plane.settings.room_interval + 0.1
    plane._on_readings(Readings([[Reading(f"{room}.co2", 900.0, START + 1)]]))
    sent = len(quiet.rooms_sent())
    tick_until(quiet, start + 0.1, over - tick / 2)
    assert quiet.rooms_sent()[sent:] == [], "published again within the interval"
    tick_until(quiet, over - tick / 2, over + tick / 2)
    assert quiet.rooms_sent()[sent:] == [room], "not published once the interval was over"
    assert b'"co2":{"value":900.0,' in quiet.driver.published[-1].payload
    sent = len(quiet.rooms_sent())
    tick_until(quiet, over + tick / 2, over + 3)
    assert quiet.rooms_sent()[sent:] == [], "published again without a change"


@run_async
async def test_a_slice_stops_for_readings_waiting_and_the_next_tick_publishes_its_rest() -> None:
    quiet = await quiet_plane(1000, keep=True)
    plane, tick = quiet.plane, quiet.plane.settings.tick
    start = connect(quiet)
    done = len(quiet.rooms_sent())  # the first slice, with everything retained
    quiet.driver.input_after = quiet.driver.sent + 3  # readings arrive during the third room
    plane._publish_rooms(start + tick)
    assert quiet.rooms_sent()[done:] == quiet.rooms[done : done + 3]
    quiet.driver.input_after = None  # the loop handled them
    plane._publish_rooms(start + 2 * tick)
    assert quiet.rooms_sent()[done:] == quiet.rooms[done : done + 26], "10 left + 13"
    plane._publish_rooms(start + 3 * tick)
    assert len(quiet.rooms_sent()) - done == 39, "then as usual"


@run_async
async def test_under_a_flood_of_readings_every_other_slice_is_whole() -> None:
    quiet = await quiet_plane(1000, keep=True)
    plane, tick = quiet.plane, quiet.plane.settings.tick
    start = connect(quiet)
    quiet.driver.input_after = 0  # readings always waiting
    counts = []
    for n in range(1, 7):
        before = len(quiet.rooms_sent())
        plane._publish_rooms(start + n * tick)
        counts.append(len(quiet.rooms_sent()) - before)
    assert counts == [1, 25] * 3, "a slice that owes rooms from the last one gives way to none"


@run_async
async def test_an_override_publishes_its_room_at_the_next_tick_ahead_of_the_queue() -> None:
    quiet = await quiet_plane(1000, keep=True)
    start = connect(quiet)
    tick_until(quiet, start, start + 0.05)
    published = quiet.rooms_sent()[0]
    quiet.controller.override(f"{published}.lights", True, START + 3600, "alice")
    last = quiet.rooms[-1]
    quiet.controller.override(f"{last}.lights", True, START + 3600, "alice")
    sent = len(quiet.rooms_sent())
    quiet.plane._publish_rooms(start + 0.06)
    assert quiet.rooms_sent()[sent : sent + 2] == [last, published]


@run_async
async def test_readings_of_rooms_it_does_not_publish_cost_nothing() -> None:
    quiet = await quiet_plane(2, keep=True)
    plane = quiet.plane
    plane._on_readings(Readings([[Reading("elsewhere.r1.co2", 500.0, START)]]))
    assert plane._last == {}
    assert plane._dirty == {}
    assert plane.recent.by_point == {}
    room = quiet.rooms[1]
    plane._on_readings(Readings([[Reading(f"{room}.lights", True, START)]]))  # a report: no history
    plane._on_readings(Readings([[Reading(f"{room}.co2", None, START, Quality.UNAVAILABLE)]]))
    assert set(plane._last) == {f"{room}.lights", f"{room}.co2"}
    assert plane._dirty == {room: None}
    assert plane.recent.by_point == {}


@run_async
async def test_retained_state_is_qos0_the_campus_and_answers_qos1() -> None:
    quiet = await quiet_plane(3, keep=True)
    start = connect(quiet)
    tick_until(quiet, start, start + 0.1)
    plane, base = quiet.plane, quiet.plane.topics.base
    plane._on_request(plane.topics.request("events"), b'{"limit": 1, "transaction": 1}')
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
    tick_until(quiet, start, start + 0.05)
    sent = len(quiet.rooms_sent())
    await quiet.plane.stop()
    assert sorted(quiet.rooms_sent()[sent:]) == sorted(quiet.rooms)
    base = quiet.plane.topics.base
    for message in quiet.driver.published[sent:]:
        assert message.retain
        assert message.qos == (1 if message.topic == f"{base}/campus" else 0), message.topic
