"""The actuators' side of a test: a paho client, in a process of its own, that records every
command it is sent."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from typing import IO

from tests.support.mosquitto import Broker

_ids = itertools.count()

SUBSCRIBED = "subscribed"
"""The child's first line, once the broker has acknowledged its subscription."""


class CommandRecorder:
    """Subscribed (QoS 1, so the commands' own QoS shows) to ``zigbee2mqtt/+/set``: every
    command as (topic, payload, qos), in arrival order. `session`: the name of a session the
    broker keeps while the recorder is away (a later recorder of that name takes it up); none
    by default.

    The client runs in a child process (tests/support/recorder_child.py), as real devices do:
    in the test's process it would take the interpreter lock from the controller under test
    and slow both down. A thread here reads its lines into `got`."""

    def __init__(self, broker: Broker, session: str = "") -> None:
        self.got: list[tuple[str, bytes, int]] = []
        self._lock = threading.Lock()
        client_id = f"devices-{session or next(_ids)}"
        command = [sys.executable, "-m", "tests.support.recorder_child", broker.host]
        command += [str(broker.port), client_id, "persistent" if session else "clean"]
        self._child = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert self._child.stdout is not None
        while (line := self._child.stdout.readline()).strip() != SUBSCRIBED:
            if not line:  # a kept session's commands may come before the SUBACK
                self._child.kill()
                raise AssertionError("the recorder exited before its subscription was acknowledged")
            self._take(line)
        self._reader = threading.Thread(
            target=self._read, args=(self._child.stdout,), name=f"recorder-{client_id}"
        )
        self._reader.start()

    def _read(self, lines: IO[str]) -> None:
        for line in lines:
            self._take(line)

    def _take(self, line: str) -> None:
        qos, topic, payload = line.rstrip("\n").split(" ", 2)
        with self._lock:
            self.got.append((topic, bytes.fromhex(payload), int(qos)))

    def count(self) -> int:
        with self._lock:
            return len(self.got)

    def since(self, start: int) -> list[tuple[str, bytes, int]]:
        with self._lock:
            return self.got[start:]

    def by_topic(self) -> dict[str, list[tuple[bytes, int]]]:
        """Each topic's commands (payload, qos), in order."""
        with self._lock:
            found: dict[str, list[tuple[bytes, int]]] = {}
            for topic, payload, qos in self.got:
                found.setdefault(topic, []).append((payload, qos))
            return found

    def topics(self) -> int:
        with self._lock:
            return len({topic for topic, _, _ in self.got})

    def close(self) -> None:
        """Disconnect (cleanly: a kept session stays with the broker) and read what is left."""
        assert self._child.stdin is not None
        self._child.stdin.close()
        try:
            self._child.wait(10)
        finally:
            self._child.kill()
            self._reader.join(10)
