"""The ``campusctl serial`` commands: their arguments here, their work in `drivers.serial.tool`
(imported only when one runs, so the rest of the CLI starts without pyserial)."""

from __future__ import annotations

import argparse
import sys

from campus.model import SerialPort, SerialProtocol

CALIBRATIONS = ("zero", "abc-on", "abc-off")
CALIBRATED = (SerialProtocol.MHZ19B.value, SerialProtocol.SENSEAIR_S8.value)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serial = commands.add_parser("serial", help="read or calibrate one serial sensor")
    actions = serial.add_subparsers(required=True, metavar="ACTION")

    read = actions.add_parser("read", help="print each reading of a sensor, value and unit")
    _port_arguments(read, [p.value for p in SerialProtocol])
    read.add_argument("--count", type=int, default=None, help="stop after N readings")
    read.add_argument(
        "--interval",
        type=float,
        default=2.0,
        help="seconds between requests to mhz19b and senseair-s8 (default 2)",
    )
    read.add_argument(
        "--keys",
        default="",
        help="ascii: board keys to field names, like lux=illuminance,occ=occupancy",
    )
    read.set_defaults(func=cmd_read)

    calibrate = actions.add_parser(
        "calibrate", help="zero (fresh air = 400 ppm now), or ABC on/off, and show the answer"
    )
    _port_arguments(calibrate, list(CALIBRATED))
    calibrate.add_argument("action", choices=CALIBRATIONS)
    calibrate.set_defaults(func=cmd_calibrate)


def _port_arguments(parser: argparse.ArgumentParser, protocols: list[str]) -> None:
    parser.add_argument("port", metavar="PORT", help="/dev/ttyUSB0, or a pyserial URL")
    parser.add_argument("--protocol", required=True, choices=protocols)
    parser.add_argument("--baud", type=int, default=9600, help="default 9600")
    parser.add_argument(
        "--timeout", type=float, default=1.0, help="seconds to wait for a reply (default 1)"
    )
    parser.add_argument(
        "--address", type=int, default=0xFE, help="senseair-s8: Modbus address (default 254)"
    )


def port_of(args: argparse.Namespace) -> SerialPort:
    """The command line's port, as campus.yaml would declare it."""
    protocol = SerialProtocol(args.protocol)
    keys = {}
    for pair in filter(None, getattr(args, "keys", "").split(",")):
        key, eq, name = pair.partition("=")
        if not eq:
            raise SystemExit(f"campusctl serial: --keys wants key=field pairs, got {pair!r}")
        keys[key.strip()] = name.strip()
    interval = getattr(args, "interval", None)
    return SerialPort(
        name=args.port,
        device=args.port,
        protocol=protocol,
        baud=args.baud,
        poll_interval=interval if protocol.polled else None,
        timeout=args.timeout,
        address=args.address,
        keys=keys,
    )


def cmd_read(args: argparse.Namespace) -> int:
    from drivers.serial.tool import read

    return read(port_of(args), count=args.count, out=sys.stdout, err=sys.stderr)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from drivers.serial.tool import calibrate

    return calibrate(port_of(args), args.action, out=sys.stdout, err=sys.stderr)
