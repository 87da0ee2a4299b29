"""The writer's logic (order, splitting, spooling, never blocking the caller) with a scripted
sink; the same behaviour against real servers is in test_outage.py and test_influx1.py."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from controller.history.sinks import Rejected, Unavailable
from controller.history.spool import Spool
from controller.history.writer import Writer
from tests.support.waiting import wait_for_blocking


class ScriptedSink:
    """Records what it was given; `down` makes it unavailable, `refuse` lines it rejects."""

    description = "scripted sink"

    def __init__(self) -> None:
        self.down = False
        self.refuse: set[bytes] = set()
        self.received: list[bytes] = []
        self.requests = 0
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def write(self, lines: Sequence[bytes]) -> None:
        self.entered.set()
        self.gate.wait()
        self.requests += 1
        if self.down:
            raise Unavailable(503, "down for the test")
        if self.refuse & set(lines):
            raise Rejected(400, "bad point")
        self.received.extend(lines)

    def close(self) -> None:
        pass


def encode(events: list[object]) -> list[bytes]:
    return [str(e).encode() for e in events]


def make_writer(
    tmp_path: Path, sink: ScriptedSink, batch_size: int = 10, max_bytes: int = 10**9
) -> Writer:
    spool = Spool(tmp_path / "spool.sqlite", max_bytes)
    writer = Writer(sink, spool, encode, batch_size=batch_size, flush_interval=0.01, retry_max=0.05)
    writer.start()
    return writer


def submit_all(writer: Writer, events: range) -> None:
    for event in events:
        writer.submit(event)


def settle(writer: Writer, what: str = "the writer to finish") -> None:
    wait_for_blocking(lambda: writer.idle, what)


def test_points_spooled_in_an_outage_go_out_in_order_before_newer_ones(tmp_path: Path) -> None:
    sink = ScriptedSink()
    writer = make_writer(tmp_path, sink)
    submit_all(writer, range(0, 25))
    settle(writer)
    sink.down = True
    submit_all(writer, range(25, 60))
    wait_for_blocking(lambda: writer.spool.count == 35, "the outage's points in the spool")
    assert not writer.available
    submit_all(writer, range(60, 70))
    sink.down = False
    submit_all(writer, range(70, 100))
    settle(writer)
    writer.stop()
    assert sink.received == [str(i).encode() for i in range(100)]
    assert writer.stats.written == 100
    assert writer.available


def test_a_refused_point_is_dropped_alone_by_splitting_the_batch(tmp_path: Path) -> None:
    sink = ScriptedSink()
    sink.refuse = {b"13", b"17"}
    sink.gate.clear()  # hold the first request so that all 40 points form one batch
    writer = make_writer(tmp_path, sink, batch_size=40)
    submit_all(writer, range(40))
    sink.gate.set()
    settle(writer)
    writer.stop()
    assert sink.received == [str(i).encode() for i in range(40) if i not in (13, 17)]
    assert writer.stats.rejected == 2
    assert writer.stats.written == 38


def test_submit_never_waits_for_a_hanging_server(tmp_path: Path) -> None:
    sink = ScriptedSink()
    sink.gate.clear()  # every write hangs until the gate opens
    writer = make_writer(tmp_path, sink)
    submit_all(writer, range(1))
    wait_for_blocking(sink.entered.is_set, "the writer to hang in a write")
    submitted = threading.Event()

    def caller() -> None:
        submit_all(writer, range(1, 50_001))
        submitted.set()

    threading.Thread(target=caller).start()
    wait_for_blocking(submitted.is_set, "50,000 submits while the writer hangs")
    assert sink.requests == 0, "the submits returned only after the hanging write ended"
    sink.gate.set()
    settle(writer)
    writer.stop()
    assert sink.received == [str(i).encode() for i in range(50_001)]


def test_points_spooled_at_shutdown_are_sent_first_after_a_restart(tmp_path: Path) -> None:
    sink = ScriptedSink()
    sink.down = True
    writer = make_writer(tmp_path, sink)
    submit_all(writer, range(30))
    writer.stop()
    writer.spool.close()
    assert sink.received == []
    sink.down = False
    again = make_writer(tmp_path, sink)
    assert again.spool.count == 30
    submit_all(again, range(30, 40))
    settle(again)
    again.stop()
    assert sink.received == [str(i).encode() for i in range(40)]


def test_a_full_spool_keeps_the_newest_points(tmp_path: Path) -> None:
    sink = ScriptedSink()
    sink.down = True
    writer = make_writer(tmp_path, sink, max_bytes=200)
    submit_all(writer, range(1000, 1200))
    wait_for_blocking(lambda: writer.stats.spooled == 200, "the points in the spool")
    sink.down = False
    settle(writer)
    writer.stop()
    assert len(b"".join(sink.received)) <= 200
    assert sink.received == [str(i).encode() for i in range(1200 - len(sink.received), 1200)]
    assert writer.spool.dropped_total == 200 - len(sink.received)
