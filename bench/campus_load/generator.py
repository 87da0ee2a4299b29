"""The load generator: readings out at a paced rate, commands in, each matched to the reading
that had to cause it.

Readings for a whole step are generated before it starts (packets and expected commands per
2 ms tick), so during the step the generator only writes prepared bytes. Commands are read by a
raw-socket subscriber thread that stamps each with `time.monotonic()` as it arrives; latency is
arrival minus the moment the causing reading was written to the socket. A command that matches
no pending expectation for its topic is extra; an expectation still pending after the grace
time is missing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from bench.campus_load.wire import RawPublisher, _remaining_length, _string, connect_packet
from bench.campus_load.workload import PROBE, Workload, command_topic, probe_packet

TICK = 0.002
GRACE = 2.0
"""Seconds after the last reading a late command may still arrive (it then fails p99 < 1 s)."""


@dataclass
class StepResult:
    rate: float
    seconds: float
    sent: int
    achieved_rate: float
    expected: int
    matched: int
    missing: int
    extra: int
    p50_ms: float | None
    p99_ms: float | None
    cpu_seconds: float = 0.0
    note: str = ""

    @property
    def sustained(self) -> bool:
        return (
            self.missing == 0
            and self.extra == 0
            and (self.p99_ms is None or self.p99_ms < 1000.0)
            and self.achieved_rate >= 0.95 * self.rate
            and not self.note
        )

    def line(self) -> str:
        lat = (
            f"p50 {self.p50_ms:.2f} ms p99 {self.p99_ms:.2f} ms"
            if self.p50_ms is not None and self.p99_ms is not None
            else "latency n/a"
        )
        us = 1e6 * self.cpu_seconds / max(1, self.sent)
        return (
            f"{self.rate:8.0f}/s sent {self.achieved_rate:8.0f}/s  expected {self.expected:6d} "
            f"missing {self.missing:5d} extra {self.extra:5d}  {lat}  {us:5.1f} us/reading"
            f"  {'ok' if self.sustained else 'FAIL'} {self.note}"
        )


class Receiver(threading.Thread):
    """Subscribes to every command topic and the ceiling's counter; stamps arrivals."""

    def __init__(
        self, port: int, topics: tuple[str, ...] = ("zigbee2mqtt/+/set", "bench/count")
    ) -> None:
        super().__init__(daemon=True, name="bench-receiver")
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(f"bench-receiver-{id(self)}"))
        if self.sock.recv(4)[:1] != b"\x20":
            raise ConnectionError("the broker refused the receiver")
        body = (1).to_bytes(2, "big")
        for topic in topics:
            body += _string(topic) + b"\x00"
        self.sock.sendall(b"\x82" + _remaining_length(len(body)) + body)
        self.sock.settimeout(None)
        self.lock = threading.Lock()
        self.items: list[tuple[float, str, bytes]] = []
        self.count = -1
        """The ceiling's last reported count of parsed readings."""
        self._stop = False

    def run(self) -> None:
        buf = b""
        sock = self.sock
        while not self._stop:
            try:
                data = sock.recv(262144)
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            buf += data
            got: list[tuple[float, str, bytes]] = []
            pos = 0
            while True:
                if len(buf) - pos < 2:
                    break
                kind = buf[pos]
                length, mult, i = 0, 1, pos + 1
                while i < len(buf):
                    byte = buf[i]
                    length += (byte & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not byte & 0x80:
                        break
                else:
                    break
                if i + length > len(buf):
                    break
                packet = buf[i : i + length]
                pos = i + length
                if kind & 0xF0 == 0x30:
                    tlen = int.from_bytes(packet[:2], "big")
                    topic = packet[2 : 2 + tlen].decode()
                    start = 2 + tlen + (2 if kind & 0x06 else 0)
                    payload = packet[start:]
                    if topic == "bench/count":
                        self.count = int(payload)
                    else:
                        got.append((now, topic, payload))
            buf = buf[pos:]
            if got:
                with self.lock:
                    self.items.extend(got)

    def take(self) -> list[tuple[float, str, bytes]]:
        with self.lock:
            items, self.items = self.items, []
        return items

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@dataclass
class Generator:
    """One engine's session: a publisher, a receiver and the workload's state."""

    port: int
    rooms: int
    counts_only: bool = False
    """The ceiling sends no commands: keeping up is judged by its reported count."""
    workload: Workload = field(init=False)
    pending: dict[str, deque[tuple[bytes, float]]] = field(default_factory=dict)
    sent_total: int = 0
    extras: list[tuple[str, bytes]] = field(default_factory=list)
    """The first unexpected commands seen (for the log)."""

    def __post_init__(self) -> None:
        self.workload = Workload(self.rooms)
        self.receiver = Receiver(self.port)
        self.receiver.start()
        self.publisher = RawPublisher(self.port, "bench-generator")

    def close(self) -> None:
        self.publisher.close()
        self.receiver.close()

    def wait_ready(self, timeout: float, quiet: float = 1.0) -> None:
        """Poke the probe room until the engine answers, then wait for its start-up commands
        (campusctl sends every actuator's value once after its settle time) to stop."""
        deadline = time.monotonic() + timeout
        light = command_topic(PROBE, "light")
        while time.monotonic() < deadline:
            self.publisher.send(probe_packet(dark=True))
            self.sent_total += 1
            time.sleep(0.2)
            if self.counts_only:
                if self.receiver.count >= 1:
                    break
            elif any(topic == light for _, topic, _ in self.receiver.take()):
                break
        else:
            raise TimeoutError(f"the engine did not answer within {timeout:g} s")
        last, count = time.monotonic(), self.receiver.count
        while time.monotonic() - last < quiet and time.monotonic() < deadline + 60:
            time.sleep(0.1)
            if self.receiver.take() or self.receiver.count != count:
                last, count = time.monotonic(), self.receiver.count
        if self.counts_only:
            self.sent_total = count

    def prepare(self, rate: float, seconds: float) -> list[tuple[bytes, list[tuple[str, bytes]]]]:
        """Every tick's packets and expected commands for `seconds` at `rate` readings/s."""
        ticks = max(1, round(seconds / TICK))
        total = round(rate * seconds)
        out = []
        made = 0
        for k in range(ticks):
            n = round(total * (k + 1) / ticks) - made
            made += n
            packets = []
            expected: list[tuple[str, bytes]] = []
            for _ in range(n):
                packet, exp = self.workload.next_reading()
                packets.append(packet)
                expected.extend((e.topic, e.payload) for e in exp)
            out.append((b"".join(packets), expected))
        return out

    def step(self, rate: float, seconds: float, cpu: CpuProbe | None = None) -> StepResult:
        plan = self.prepare(rate, seconds)
        sent = round(rate * seconds)
        latencies: list[float] = []
        extra = matched = expected = 0
        pending = self.pending
        send = self.publisher.send
        self.receiver.take()
        cpu_before = cpu.seconds() if cpu else 0.0
        began = time.monotonic()

        def absorb() -> None:
            nonlocal extra, matched
            for arrived, topic, payload in self.receiver.take():
                if topic.startswith("zigbee2mqtt/load-probe"):
                    continue
                queue = pending.get(topic)
                if queue and queue[0][0] == payload:
                    latencies.append(arrived - queue.popleft()[1])
                    matched += 1
                else:
                    extra += 1
                    if len(self.extras) < 20:
                        self.extras.append((topic, payload))

        for k, (packets, commands) in enumerate(plan):
            due = began + k * TICK
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            stamp = time.monotonic()
            if not self.counts_only:
                for topic, payload in commands:
                    pending.setdefault(topic, deque()).append((payload, stamp))
                expected += len(commands)
            send(packets)
            if k % 8 == 0:
                absorb()
        finished = time.monotonic()
        self.sent_total += sent
        note = ""
        # A ceiling more than a second behind fails, as a command over a second late does.
        deadline = finished + (1.0 if self.counts_only else GRACE)
        while time.monotonic() < deadline:
            time.sleep(0.02)
            absorb()
            if self.counts_only:
                if self.receiver.count >= self.sent_total:
                    break
            elif not any(pending.values()):
                break
        time.sleep(0.2)
        absorb()
        if self.counts_only and self.receiver.count < self.sent_total:
            note = f"behind by {self.sent_total - self.receiver.count} readings"
        missing = sum(len(q) for q in pending.values())
        pending.clear()
        latencies.sort()
        p50 = 1000 * statistics.median(latencies) if latencies else None
        p99 = (
            1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
            if latencies
            else None
        )
        return StepResult(
            rate=rate,
            seconds=seconds,
            sent=sent,
            achieved_rate=sent / max(1e-9, finished - began),
            expected=expected,
            matched=matched,
            missing=missing,
            extra=extra,
            p50_ms=p50,
            p99_ms=p99,
            cpu_seconds=(cpu.seconds() - cpu_before) if cpu else 0.0,
            note=note,
        )


class CpuProbe:
    """CPU seconds (user + system) a process has used, from /proc/<pid>/stat."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.ticks = float(os.sysconf("SC_CLK_TCK"))

    def seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.ticks

    def peak_rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        return 0.0
