"""One serial port in its own thread: open it, talk to the sensor, survive the cable being pulled.

pyserial blocks, so each port gets a thread; reads time out after `SerialTiming.read_slice` so a
stop is noticed at once. The thread hands every frame's values to a callback (the driver moves
them onto the event loop). A port that fails to open, errors, or falls silent is closed and
reopened with exponential backoff; its points get no readings meanwhile and go stale through
their ``stale_after``. Polled sensors get their request every poll interval (divided by the
clock's speed, so an accelerated demo polls as often in simulated time); before each request the
input is flushed, so a reply always starts a fresh frame.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import serial

from campus.model import SerialPort
from drivers.mqtt.throttle import LogThrottle
from drivers.serial.protocols.framing import BadData, ParserStats, StreamParser, hexbytes
from drivers.serial.sensors import Sensor, sensor_for

log = logging.getLogger("campusctl.serial")

ValuesCallback = Callable[[dict[str, float]], None]

LINK_ERRORS: tuple[type[Exception], ...] = (serial.SerialException, OSError)
"""What a port that went away raises (pyserial wraps most, not termios calls)."""
if sys.platform != "win32":
    import termios

    LINK_ERRORS += (termios.error,)


@dataclass(frozen=True)
class SerialTiming:
    """Wall-clock seconds the port threads work with (tests shorten them)."""

    backoff_initial: float = 0.5
    backoff_max: float = 3.0
    """At most this long between two attempts to open: a replugged sensor is back within it."""
    read_slice: float = 0.1
    """The longest a read blocks: how soon a stop is noticed."""
    silence: float = 60.0
    """A streaming port that sends no frame for this long is reopened (and set up again)."""
    max_missed: int = 3
    """Polls in a row without a reply before the port is reopened."""
    min_poll: float = 0.05
    """Never poll more often than this, however fast the clock runs."""
    log_interval: float = 60.0
    """Repeated problems of one kind on one port are logged at most this often."""


@dataclass(slots=True)
class PortStats:
    """Counters kept by the port's thread; read them from anywhere (they are plain ints)."""

    connected: bool = False
    opens: int = 0
    open_failures: int = 0
    losses: int = 0
    """Times an open port failed (unplugged, I/O error) or fell silent and was closed."""
    polls: int = 0
    timeouts: int = 0
    """Requests that got no (whole) reply in time."""
    device_problems: int = 0
    """Frames in which the device reported a problem (Modbus exception, error status)."""
    values: int = 0
    """Frames whose values were handed over."""
    frames: ParserStats = field(default_factory=ParserStats)
    """Frames found, bad frames and bytes thrown away."""
    last_error: str = ""


class PortSilent(Exception):
    """The device stopped answering: reopen the port."""


OPEN_ERRORS: tuple[type[Exception], ...] = (*LINK_ERRORS, ValueError)
"""What opening may raise (ValueError: a bad URL or setting)."""
LOST: tuple[type[Exception], ...] = (*LINK_ERRORS, PortSilent)


def open_link(port: SerialPort, read_timeout: float) -> Any:
    """Open a device path or pyserial URL (8N1, no flow control). A device path is locked
    (flock), so a second campusctl on the same port fails clearly instead of stealing bytes."""
    extra: dict[str, Any] = {} if "://" in port.device else {"exclusive": True}
    return serial.serial_for_url(
        port.device,
        baudrate=port.baud,
        timeout=read_timeout,
        write_timeout=port.timeout,
        **extra,
    )


class PortWorker:
    """Runs one port until `stop`; `stats` says how it goes."""

    def __init__(
        self,
        port: SerialPort,
        on_values: ValuesCallback,
        *,
        speed: float = 1.0,
        timing: SerialTiming | None = None,
    ) -> None:
        self.port = port
        self.timing = timing or SerialTiming()
        self.sensor: Sensor = sensor_for(port)
        self.parser = self.sensor.parser()
        self.stats = PortStats(frames=self.parser.stats)
        self.where = f"serial port {port.name} ({port.device}, {port.protocol})"
        self._on_values = on_values
        self._interval = (
            None
            if port.poll_interval is None
            else max(self.timing.min_poll, port.poll_interval / speed)
        )
        self._stop = threading.Event()
        self._throttle = LogThrottle(log, self.timing.log_interval)
        self._thread = threading.Thread(target=self._run, name=f"serial-{port.name}", daemon=True)
        self._frames_this_session = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self.timing.backoff_initial
        down_since = time.monotonic()
        while not self._stop.is_set():
            try:
                link = open_link(self.port, self.timing.read_slice)
            except OPEN_ERRORS as exc:
                self.stats.open_failures += 1
                self.stats.last_error = str(exc)
                self._throttle.warning(
                    "open", f"{self.where}: cannot open ({exc}); retrying in {backoff:g} s"
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.timing.backoff_max)
                continue
            self.stats.opens += 1
            self.stats.connected = True
            if self.stats.opens == 1:
                log.info("%s: open at %d baud", self.where, self.port.baud)
            else:
                log.info("%s: open again after %.1f s", self.where, time.monotonic() - down_since)
            self._frames_this_session = 0
            try:
                self._session(link)
            except LOST as exc:
                self.stats.losses += 1
                self.stats.last_error = str(exc) or type(exc).__name__
                down_since = time.monotonic()
                log.warning("%s: lost (%s); reopening", self.where, self.stats.last_error)
            except Exception:
                self.stats.losses += 1
                down_since = time.monotonic()
                log.exception("%s: unexpected error (a bug); reopening", self.where)
            finally:
                self.stats.connected = False
                _close(link)
            if self._frames_this_session:
                backoff = self.timing.backoff_initial
            elif not self._stop.is_set():
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.timing.backoff_max)

    def _session(self, link: Any) -> None:
        self.parser.flush()
        for request in self.sensor.setup():
            if not self._ask(link, request):
                log.warning("%s: no answer to set-up request %s", self.where, hexbytes(request))
        poll = self.sensor.poll()
        if poll is None:
            self._stream(link)
        else:
            self._poll(link, poll)

    def _poll(self, link: Any, request: bytes) -> None:
        assert self._interval is not None
        missed = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            next_at = max(next_at + self._interval, time.monotonic())
            self.stats.polls += 1
            if self._ask(link, request):
                missed = 0
                continue
            missed += 1
            if missed >= self.timing.max_missed:
                raise PortSilent(f"no reply to {missed} requests in a row")

    def _ask(self, link: Any, request: bytes) -> bool:
        """Send `request` and read until its answer comes (True) or the timeout passes."""
        answer, items = transact(
            link,
            self.parser,
            request,
            lambda frame: self.sensor.answers(request, frame),
            timeout=self.port.timeout,
            stopped=self._stop.is_set,
        )
        self._handle(items)
        if answer is not None or self._stop.is_set():
            return answer is not None
        self.stats.timeouts += 1
        self._throttle.warning(
            "timeout",
            f"{self.where}: no reply to {hexbytes(request)} within {self.port.timeout:g} s",
        )
        return False

    def _stream(self, link: Any) -> None:
        last_byte = last_frame = time.monotonic()
        while not self._stop.is_set():
            data = _read(link)
            now = time.monotonic()
            if data:
                last_byte = now
                before = self._frames_this_session
                self._handle(self.parser.feed(data))
                if self._frames_this_session > before:
                    last_frame = now
            elif self.parser.pending and now - last_byte > self.port.timeout:
                self._report(self.parser.flush("incomplete frame"))
            if now - last_frame > self.timing.silence:
                raise PortSilent(f"no frame for {self.timing.silence:g} s")

    def _handle(self, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, BadData):
                self._report(item)
                continue
            self._frames_this_session += 1
            outcome = self.sensor.outcome(item)
            if outcome.problem is not None:
                self.stats.device_problems += 1
                self._throttle.warning("device", f"{self.where}: {outcome.problem}")
            if outcome.values:
                self.stats.values += 1
                self._on_values(outcome.values)

    def _report(self, bad: BadData | None) -> None:
        if bad is not None:
            self.stats.last_error = str(bad)
            self._throttle.warning("bad", f"{self.where}: {bad}")


def transact(
    link: Any,
    parser: StreamParser[Any],
    request: bytes,
    answers: Callable[[Any], bool],
    *,
    timeout: float,
    stopped: Callable[[], bool] = lambda: False,
) -> tuple[Any, list[Any]]:
    """Send `request` on a clean line and read until a frame `answers` it or `timeout` seconds
    pass. Returns the answer (None if none came) and everything read, frames and `BadData`, in
    order (a partial frame left at the timeout included)."""
    link.reset_input_buffer()
    leftover = parser.flush("left over before a request")
    items: list[Any] = [] if leftover is None else [leftover]
    link.write(request)
    deadline = time.monotonic() + timeout
    answer = None
    while answer is None and not stopped():
        for item in parser.feed(_read(link)):
            items.append(item)
            if answer is None and not isinstance(item, BadData) and answers(item):
                answer = item
        if time.monotonic() >= deadline:
            break
    if answer is None:
        partial = parser.flush("incomplete reply")
        if partial is not None:
            items.append(partial)
    return answer, items


def _read(link: Any) -> bytes:
    """What has arrived, or wait up to the read timeout for at least one byte."""
    data: bytes = link.read(link.in_waiting or 1)
    return data


def _close(link: Any) -> None:
    try:
        link.close()
    except LINK_ERRORS as exc:
        log.debug("closing a lost port: %s", exc)
