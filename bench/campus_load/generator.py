"""The load generator: publisher processes send readings at a fixed rate, the checker takes the
commands, and a step ends with their comparison.

The rooms are dealt round-robin to `publishers` processes (bench/campus_load/publisher.py); each
knows which commands its readings must cause and when it published them. After the last reading
the generator waits up to GRACE for the commands still due, then a little longer for extra ones,
and compares (bench/campus_load/checker.py). The ceiling sends no commands: it keeps up when its
reported count of parsed readings catches up within a second.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from bench.campus_load import publisher
from bench.campus_load.checker import Arrival, Checker, compare
from bench.campus_load.wire import Receiver
from bench.campus_load.workload import PROBE, command_topic, probe_payload, sensor_topic

__all__ = ["CpuProbe", "Generator", "Receiver", "StepResult"]  # bench/scale.py imports Receiver
GRACE = 2.0
"""Seconds after the last reading a late command may still arrive (it then fails p99 < 1 s)."""
SETTLE = 0.3
"""Seconds the generator listens on after the last expected command, for extra ones."""
START_LEAD = 0.05
"""Seconds between telling the publishers to start and their common start."""
PRIME_RATE = 2000.0
"""Readings per second of `Generator.prime`."""


@dataclass
class StepResult:
    rate: float
    seconds: float
    sent: int = 0
    duration: float = 0.0
    """Seconds from the first reading to the last."""
    expected: int = 0
    matched: int = 0
    missing: int = 0
    extra: int = 0
    wrong: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_seconds: float = 0.0
    publisher_cpu_seconds: float = 0.0
    """The publisher processes' CPU over the step, all together."""
    rss_mb: float = 0.0
    note: str = ""
    examples: list[str] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.missing == self.extra == self.wrong == 0 and not self.note

    @property
    def sustained(self) -> bool:
        """Every command right, p99 under a second, and the rate actually sent."""
        return (
            self.correct
            and (self.p99_ms is None or self.p99_ms < 1000.0)
            and self.achieved_rate >= 0.95 * self.rate
        )

    @property
    def achieved_rate(self) -> float:
        return self.sent / max(1e-9, self.duration)

    @property
    def us_per_reading(self) -> float:
        return 1e6 * self.cpu_seconds / max(1, self.sent)

    @property
    def cpu_share(self) -> float:
        """The engine's CPU over the step, as a share of one core."""
        return self.cpu_seconds / max(1e-9, self.duration)

    def line(self) -> str:
        lat = (
            f"p50 {self.p50_ms:.2f} ms p99 {self.p99_ms:.2f} ms"
            if self.p50_ms is not None and self.p99_ms is not None
            else "latency n/a"
        )
        return (
            f"{self.rate:7.0f}/s sent {self.achieved_rate:7.0f}/s  expected {self.expected:6d} "
            f"missing {self.missing} extra {self.extra} wrong {self.wrong}  {lat}  "
            f"{self.us_per_reading:5.1f} us/reading {100 * self.cpu_share:3.0f} % CPU "
            f"(publishers {1e6 * self.publisher_cpu_seconds / max(1, self.sent):4.1f} us)  "
            f"{'ok' if self.sustained else 'FAIL'} {self.note}"
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


class Generator:
    """One engine session's publishers and checker, and the workload's state in between steps."""

    def __init__(
        self, port: int, rooms: int, publishers: int = 3, counts_only: bool = False
    ) -> None:
        self.counts_only = counts_only
        """The ceiling sends no commands: keeping up is judged by its reported count."""
        self.sent_total = 0
        self.checker = Checker(port)
        self.conns: list[Connection] = []
        self.procs: list[BaseProcess] = []
        context = multiprocessing.get_context("spawn")
        count = max(1, min(publishers, rooms))
        try:
            for index in range(count):
                ours, theirs = context.Pipe()
                rooms_of = list(range(index, rooms, count))
                proc = context.Process(
                    target=publisher.serve,
                    args=(theirs, port, index, rooms_of, 1 + index),
                    name=f"bench-publisher-{index}",
                    daemon=True,
                )
                proc.start()
                self.conns.append(ours)
                self.procs.append(proc)
            for conn in self.conns:
                if not conn.poll(30) or conn.recv() != "ready":
                    raise TimeoutError("a publisher process did not connect within 30 s")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self.checker.close()

    def wait_ready(self, timeout: float, alive: Callable[[], bool], quiet: float = 0.5) -> None:
        """Poke the probe room until the engine answers, then wait for its start-up commands
        (campusctl sends every actuator's value once after its settle time) to stop."""
        deadline = time.monotonic() + timeout
        light = command_topic(PROBE, "light")
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeError("the engine exited before it answered")
            self.checker.publish(sensor_topic(PROBE), probe_payload(dark=True))
            time.sleep(0.1)
            if self.counts_only:
                if self.checker.count >= 1:
                    break
            elif any(topic == light for _, topic, _ in self.checker.take()):
                break
        else:
            raise TimeoutError(f"the engine did not answer within {timeout:g} s")
        self._wait_quiet(quiet, deadline + 60)
        if self.counts_only:
            self.sent_total = self.checker.count

    def _wait_quiet(self, quiet: float, deadline: float) -> None:
        last, count = time.monotonic(), self.checker.count
        while time.monotonic() - last < quiet and time.monotonic() < deadline:
            time.sleep(0.05)
            if self.checker.take() or self.checker.count != count:
                last, count = time.monotonic(), self.checker.count

    def prime(self, reset: bool = False) -> None:
        """Tell the engine where every room stands (`Workload.prime`; with `reset`, vacate every
        room first, so the engine and the oracle agree again after a failed step), and wait
        until it is quiet. The commands this causes are not checked."""
        rate = PRIME_RATE / len(self.conns)
        for conn in self.conns:
            conn.send(publisher.Prime(rate, reset))
        self.sent_total += sum(p.sent for p in (conn.recv() for conn in self.conns))
        self._wait_quiet(0.5, time.monotonic() + 30)

    def step(self, rate: float, seconds: float, cpu: CpuProbe | None = None) -> StepResult:
        """`rate` readings a second for `seconds`, and how the engine answered."""
        result = StepResult(rate, seconds)
        total = round(rate * seconds)
        each = len(self.conns)
        for index, conn in enumerate(self.conns):
            count = total * (index + 1) // each - total * index // each
            conn.send(publisher.Step(rate / each, count))
        for conn in self.conns:
            if conn.recv() != "prepared":
                raise RuntimeError("a publisher did not prepare its step")
        self.checker.take()
        cpu_before = cpu.seconds() if cpu else 0.0
        publishers_before = self._publisher_cpu()
        start_at = time.monotonic() + START_LEAD
        for conn in self.conns:
            conn.send(start_at)
        done: list[publisher.Published] = [conn.recv() for conn in self.conns]
        result.publisher_cpu_seconds = self._publisher_cpu() - publishers_before
        finished = max(p.finished for p in done)
        result.sent = sum(p.sent for p in done)
        result.duration = finished - min(p.began for p in done)
        self.sent_total += result.sent
        expected = [] if self.counts_only else [e for p in done for e in p.expected]
        received = self._collect(len(expected), finished)
        if self.counts_only and self.checker.count < self.sent_total:
            result.note = f"behind by {self.sent_total - self.checker.count} readings"
        checked = compare(expected, received)
        result.expected, result.matched = checked.expected, checked.matched
        result.missing, result.extra, result.wrong = checked.missing, checked.extra, checked.wrong
        result.p50_ms, result.p99_ms = checked.percentile_ms(50), checked.percentile_ms(99)
        result.examples = checked.examples
        if cpu:
            result.cpu_seconds = cpu.seconds() - cpu_before
            result.rss_mb = cpu.peak_rss_mb()
        return result

    def _publisher_cpu(self) -> float:
        return sum(CpuProbe(p.pid).seconds() for p in self.procs if p.pid is not None)

    def _collect(self, expected: int, finished: float) -> list[Arrival]:
        """The commands that arrive until all `expected` are in or GRACE is up, and SETTLE
        longer; the ceiling's count is awaited for a second instead."""
        received: list[Arrival] = []
        probe = sensor_topic(PROBE).removesuffix("multisensor")
        deadline = finished + (1.0 if self.counts_only else GRACE)
        while time.monotonic() < deadline:
            time.sleep(0.02)
            received += (a for a in self.checker.take() if not a[1].startswith(probe))
            if self.counts_only:
                if self.checker.count >= self.sent_total:
                    break
            elif len(received) >= expected:
                break
        time.sleep(SETTLE)
        received += (a for a in self.checker.take() if not a[1].startswith(probe))
        return received
