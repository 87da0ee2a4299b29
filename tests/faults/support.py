"""What the fault tests break: a controller process (`campusctl run`, SIGKILLed and restarted)
and a Mosquitto they can kill and bring back on the same port; plus a clock all of them share.

Processes share time through `ScaledClock`'s anchor (`--start`, `--speed`, `--clock-anchor`), so
the simulator in the test and the controller in its own process read the same simulated time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from campus.clock import ScaledClock
from controller.broker import free_port, mosquitto_binary, mosquitto_conf

ROOT = Path(__file__).resolve().parents[2]


class KillableMosquitto:
    """Mosquitto on a fixed loopback port that a test may SIGKILL and start again."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "mosquitto.conf").write_text(mosquitto_conf(self.port))

    def start(self) -> None:
        binary = mosquitto_binary()
        assert binary is not None, "mosquitto is not installed"
        with (self.workdir / "mosquitto.log").open("ab") as out:
            self._proc = subprocess.Popen(
                [binary, "-c", str(self.workdir / "mosquitto.conf")],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_listening(self.port, self._proc)

    def kill(self) -> None:
        """SIGKILL: no clean disconnect for anyone, retained messages gone (no persistence)."""
        assert self._proc is not None
        self._proc.kill()
        self._proc.wait(5)
        self._proc = None

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


@dataclass
class ControllerProcess:
    """`campusctl run` in its own process on the test's clock; SIGKILL and restart it."""

    folder: Path
    broker_url: str
    clock: ScaledClock
    extra: Sequence[str] = ()
    name: str = "controller"
    """Its log (``<name>.log``), state file and client id (several run side by side)."""
    _proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.log"

    def start(self) -> None:
        self.starts += 1
        command = [
            sys.executable,
            "-m",
            "controller.cli",
            "run",
            "--config",
            str(self.folder / "campus.yaml"),
            "--rules",
            str(self.folder / "rules"),
            "--broker",
            self.broker_url,
            "--state",
            str(self.folder / f"{self.name}.sqlite"),
            "--start",
            repr(self.clock.start),
            "--speed",
            repr(self.clock.speed),
            "--clock-anchor",
            repr(self.clock.anchor),
            "--no-discovery",
            "--watch-rules",
            "0",
            "--settle",
            "2",
            "--client-id",
            f"faults-{self.name}-{self.starts}",
            *self.extra,
        ]
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts}\n".encode())
            self._proc = subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def kill(self) -> None:
        """SIGKILL: no offline message, no state flush, no goodbye."""
        assert self._proc is not None, "the controller is not running"
        os.kill(self._proc.pid, signal.SIGKILL)
        self._proc.wait(5)
        self._proc = None

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert proc.poll() is None, "mosquitto stopped at start"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"mosquitto did not listen on 127.0.0.1:{port}")
