"""The checker: a paho subscriber that stamps every command as it arrives, and the comparison of
what arrived with what the oracle expected, actuator by actuator, in order.

It subscribes at QoS 0 whatever QoS the engines publish at, so the broker-to-checker leg is the
same in every comparison. Arrivals are stamped with `time.monotonic()` in paho's network thread;
the publishers stamp readings with the same clock. The comparison aligns each actuator's
received commands with its expected ones (the fewest mismatches, as an edit distance): an
expected command with no counterpart is missing, a received one with none is extra, and one
paired with a different value, or arriving before its reading was sent (out of order), is wrong.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from bench.campus_load.publisher import Expected, connect

COMMANDS = "zigbee2mqtt/+/set"
COUNT = "bench/count"
"""Where the ceiling reports how many readings it has parsed."""
Arrival = tuple[float, str, bytes]
MAX_CELLS = 4_000_000
"""An actuator whose expected x received commands exceed this is compared position by position
(only an engine flooding one actuator gets there)."""


class Checker:
    """Subscribed to every command topic and the ceiling's count, in a thread of its own."""

    def __init__(self, port: int) -> None:
        self.lock = threading.Lock()
        self.items: list[Arrival] = []
        self.count = -1
        """The ceiling's last reported count of parsed readings."""
        subscribed = threading.Event()
        self.client = connect(port, f"bench-checker-{id(self)}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.subscribe([(COMMANDS, 0), (COUNT, 0)])
        self.client.loop_start()
        if not subscribed.wait(10):
            raise TimeoutError("the broker did not acknowledge the checker's subscription")

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        topic = message.topic
        if topic == COUNT:
            self.count = int(message.payload)
        else:
            with self.lock:
                self.items.append((now, topic, bytes(message.payload)))

    def take(self) -> list[Arrival]:
        with self.lock:
            items, self.items = self.items, []
        return items

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, 0)

    def close(self) -> None:
        self.client.disconnect()  # wakes the network thread, which then ends
        self.client.loop_stop()


def state_of(payload: bytes) -> bool | None:
    """ON -> True, OFF -> False, anything else None (which matches nothing)."""
    try:
        state = json.loads(payload).get("state")
    except (ValueError, AttributeError):
        return None
    return {"ON": True, "OFF": False}.get(state)


@dataclass
class Checked:
    expected: int = 0
    matched: int = 0
    missing: int = 0
    extra: int = 0
    wrong: int = 0
    latencies: list[float] = field(default_factory=list)
    """Seconds from reading to command, of every matched command."""
    examples: list[str] = field(default_factory=list)
    """The first few mismatches, for the log."""

    @property
    def ok(self) -> bool:
        return self.missing == self.extra == self.wrong == 0

    def percentile_ms(self, q: float) -> float | None:
        if not self.latencies:
            return None
        if q == 50:
            return 1000 * statistics.median(self.latencies)
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


def compare(expected: list[Expected], received: list[Arrival]) -> Checked:
    """Every actuator's received commands against its expected ones, in order."""
    want: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    for topic, on, at in expected:
        want[topic].append((on, at))
    got: dict[str, list[tuple[bool | None, float]]] = defaultdict(list)
    for arrived, topic, payload in sorted(received):
        got[topic].append((state_of(payload), arrived))
    out = Checked(expected=len(expected))
    for topic in want.keys() | got.keys():
        _align(topic, want.get(topic, []), got.get(topic, []), out)
    return out


def _align(
    topic: str, want: list[tuple[bool, float]], got: list[tuple[bool | None, float]], out: Checked
) -> None:
    def fits(i: int, j: int) -> bool:
        return got[j][0] == want[i][0] and got[j][1] >= want[i][1]

    n, m = len(want), len(got)
    pairs: list[tuple[int | None, int | None]]
    if (n == m and all(fits(i, i) for i in range(n))) or n * m > MAX_CELLS:
        pairs = [(i if i < n else None, i if i < m else None) for i in range(max(n, m))]
    else:
        pairs = _edit_path(n, m, fits)
    for i, j in pairs:
        if i is not None and j is not None and fits(i, j):
            out.matched += 1
            out.latencies.append(got[j][1] - want[i][1])
        elif i is not None and j is not None:
            out.wrong += 1
            if got[j][0] == want[i][0]:
                out.note(f"{topic}: {_show(got[j][0])} arrived before its reading was sent")
            else:
                out.note(f"{topic}: wanted {_show(want[i][0])}, got {_show(got[j][0])}")
        elif i is not None:
            out.missing += 1
            out.note(f"{topic}: {_show(want[i][0])} missing")
        else:
            out.extra += 1
            out.note(f"{topic}: extra {_show(got[j][0] if j is not None else None)}")


def _edit_path(
    n: int, m: int, fits: Callable[[int, int], bool]
) -> list[tuple[int | None, int | None]]:
    """The cheapest alignment of n expected with m received commands: a fitting pair costs 0,
    an unfitting pair (wrong), a missing or an extra command 1."""
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        row, above = cost[i], cost[i - 1]
        for j in range(1, m + 1):
            pair = above[j - 1] + (0 if fits(i - 1, j - 1) else 1)
            row[j] = min(pair, above[j] + 1, row[j - 1] + 1)
    path: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (0 if fits(i - 1, j - 1) else 1):
            path.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            path.append((i - 1, None))
            i -= 1
        else:
            path.append((None, j - 1))
            j -= 1
    path.reverse()
    return path


def _show(on: bool | None) -> str:
    return {True: "ON", False: "OFF", None: "an unreadable payload"}[on]
