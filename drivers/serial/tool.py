"""``campusctl serial read|calibrate``: one sensor at the gateway, no campus.yaml needed.

`read` runs the driver's own port thread (the same framing, set-up, resynchronisation and
reopening), so what an integrator sees here is what the service will get; every problem is
printed, with the bytes in hex. `calibrate` sends one command and reports what the sensor said.
"""

from __future__ import annotations

import queue
import time
from typing import Any, TextIO

from campus.model import SerialPort, SerialProtocol
from drivers.serial.cli import CALIBRATIONS
from drivers.serial.port import OPEN_ERRORS, PortWorker, SerialTiming, open_link, transact
from drivers.serial.protocols import mhz19b, modbus
from drivers.serial.protocols import senseair_s8 as s8
from drivers.serial.protocols.framing import BadData, hexbytes
from drivers.serial.sensors import UNITS, sensor_for

PATIENCE = 10.0
"""`read` gives up after this many seconds without a reading (plus one poll interval)."""
S8_CALIBRATION_WAIT = 2.5
"""Seconds the S8 needs for a background calibration before it sets its acknowledgement bit."""
CHECK_HINT = "check the wiring (sensor TX to adapter RX), the baud rate and --protocol"


def read(
    port: SerialPort,
    *,
    count: int | None,
    out: TextIO,
    err: TextIO,
    patience: float = PATIENCE,
) -> int:
    """Print every reading (``co2 812 ppm``, one value a line) until `count` frames, Ctrl-C, or
    `patience` seconds without one (exit status 1)."""
    problem = _try_open(port)
    if problem is not None:
        print(problem, file=err)
        return 1
    values: queue.Queue[dict[str, float]] = queue.Queue()
    worker = PortWorker(port, values.put, timing=SerialTiming(log_interval=0.0))
    worker.start()
    wait = patience + (port.poll_interval or 0.0)
    seen = 0
    try:
        while count is None or seen < count:
            try:
                frame = values.get(timeout=wait)
            except queue.Empty:
                print(f"{port.device}: no reading in {wait:g} s; {CHECK_HINT}", file=err)
                return 1
            for name, value in frame.items():
                print(f"{name} {value:g} {UNITS.get(name, '')}".rstrip(), file=out, flush=True)
            seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
        worker.join()
    return 0


def calibrate(
    port: SerialPort, action: str, *, out: TextIO, err: TextIO, wait: float = S8_CALIBRATION_WAIT
) -> int:
    """Send `action` (zero: fresh air is 400 ppm now; abc-on, abc-off) and report the answer."""
    if action not in CALIBRATIONS:
        raise ValueError(f"unknown calibration {action!r}: use {', '.join(CALIBRATIONS)}")
    try:
        link = open_link(port, 0.05)
    except OPEN_ERRORS as exc:
        print(f"{port.device}: cannot open: {exc}", file=err)
        return 1
    try:
        if port.protocol is SerialProtocol.MHZ19B:
            return _mhz19b(link, port, action, out, err)
        if port.protocol is SerialProtocol.SENSEAIR_S8:
            return _senseair_s8(link, port, action, out, err, wait=wait)
        print(f"{port.protocol} sensors cannot be calibrated from here", file=err)
        return 1
    finally:
        link.close()


def _try_open(port: SerialPort) -> str | None:
    try:
        open_link(port, 0.05).close()
    except OPEN_ERRORS as exc:
        return (
            f"{port.device}: cannot open: {exc} "
            "(permission denied: join the dialout group; busy: stop the service using it)"
        )
    return None


def _mhz19b(link: Any, port: SerialPort, action: str, out: TextIO, err: TextIO) -> int:
    request = {
        "zero": mhz19b.zero_request(),
        "abc-on": mhz19b.abc_request(True),
        "abc-off": mhz19b.abc_request(False),
    }[action]
    parser = sensor_for(port).parser()
    _, stray = transact(link, parser, request, lambda frame: True, timeout=0.3)
    print(f"sent {action}: {hexbytes(request)}", file=out)
    print("the MH-Z19B does not answer this command (datasheet)", file=out)
    for item in stray:
        print(f"unexpected bytes after it: {item}", file=err)
    answer, items = transact(
        link,
        parser,
        mhz19b.read_request(),
        lambda frame: frame.command == mhz19b.READ,
        timeout=port.timeout,
    )
    _print_bad(items, err)
    if answer is None:
        print(f"no answer to a read afterwards; {CHECK_HINT}", file=err)
        return 1
    print(f"it reads {mhz19b.reading_of(answer).co2} ppm now", file=out)
    return 0


def _senseair_s8(
    link: Any, port: SerialPort, action: str, out: TextIO, err: TextIO, *, wait: float
) -> int:
    address = port.address
    parser = sensor_for(port).parser()

    def ask(request: bytes) -> modbus.Reply | None:
        answer, items = transact(link, parser, request, lambda frame: True, timeout=port.timeout)
        _print_bad(items, err)
        if answer is None:
            print(f"no answer to {hexbytes(request)}; {CHECK_HINT}", file=err)
        elif isinstance(answer, modbus.ExceptionReply):
            print(
                f"the sensor refused {hexbytes(request)}: exception {answer.code:02X} "
                f"({answer.meaning})",
                file=err,
            )
            return None
        return answer  # type: ignore[no-any-return]

    if action != "zero":
        hours = s8.DEFAULT_ABC_HOURS if action == "abc-on" else 0
        request = s8.abc_period_request(hours, address)
        if ask(request) != modbus.Written(address, s8.ABC_PERIOD, hours):
            return 1
        state = f"every {hours} h" if hours else "off"
        print(f"ABC period set: {state} ({hexbytes(request)} echoed)", file=out)
        return 0
    for request in (s8.clear_acknowledgement_request(address), s8.calibration_request(address)):
        if ask(request) is None:
            return 1
    print(f"background calibration started; waiting {wait:g} s", file=out)
    time.sleep(wait)
    reply = ask(s8.read_acknowledgement_request(address))
    if not isinstance(reply, modbus.Registers) or not reply.values:
        return 1
    done = bool(reply.values[0] & s8.ACK_BACKGROUND_CALIBRATION)
    print(
        f"acknowledgement register 0x{reply.values[0]:04X}: "
        + ("calibration done (fresh air = 400 ppm)" if done else "calibration NOT confirmed"),
        file=out,
    )
    return 0 if done else 1


def _print_bad(items: list[Any], err: TextIO) -> None:
    for item in items:
        if isinstance(item, BadData):
            print(item, file=err)
