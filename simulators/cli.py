"""``campusctl simulate``: run the simulated campus against a broker.

The controller's CLI adds this subcommand with `add_arguments` and calls `run`. The simulator and
the controller can share one `ScaledClock`: give both the same ``--start``, ``--speed`` and
``--clock-anchor`` and they read the same simulated time.

The campus comes from a campus.yaml (``--config``) or a scenario (``--scenario``, see
`simulators.scenario`), whose generated campus.yaml ``--write-campus`` saves for the controller.
Runs without a broker, through the rules engine, are the controller's (`controller.offline`):
this package never imports the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from campus.model import Campus
from campus.problems import ConfigError
from campus.text import counted
from simulators.fallback import FallbackSettings
from simulators.mqtt import SimulatorRunner
from simulators.scenario import load_scenario
from simulators.serial.options import HELP as SERIAL_HELP
from simulators.serial.options import (
    SerialSpec,
    announce,
    build_simulator,
    parse_specs,
    without_mqtt,
)
from simulators.serial.runner import SerialSimulator
from simulators.world import Conditions, World

log = logging.getLogger("campusctl.sim")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="campus.yaml to simulate")
    source.add_argument(
        "--scenario", help="a campus scenario (examples/scenarios/): generated rooms, conditions"
    )
    parser.add_argument(
        "--write-campus",
        metavar="FILE",
        help="with --scenario: write the campus.yaml it generates (for campusctl run) and exit",
    )
    parser.add_argument(
        "--broker", default="mqtt://127.0.0.1:1883", help="mqtt://[user:pass@]host[:port]"
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per wall second (default 1)"
    )
    parser.add_argument(
        "--start",
        help="simulated start: local time in the site's zone ('2026-11-23 07:50') or POSIX "
        "seconds (default: now, or the anchor when --clock-anchor is given)",
    )
    parser.add_argument(
        "--clock-anchor",
        type=float,
        help="POSIX wall time at which the clock reads --start (share it with the controller)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="random seed (default: the scenario's, or 0)"
    )
    parser.add_argument(
        "--duration", type=float, help="stop after this many wall-clock seconds (default: never)"
    )
    parser.add_argument(
        "--step",
        type=float,
        default=5.0,
        help="simulated seconds between physics steps and publications (default 5)",
    )
    parser.add_argument(
        "--report-interval",
        type=float,
        default=60.0,
        help="simulated seconds between multisensor reports (default 60)",
    )
    parser.add_argument(
        "--serial", action="append", default=[], metavar="ROOM=PROTOCOL[:PATH]", help=SERIAL_HELP
    )
    parser.add_argument(
        "--fallback-after",
        type=int,
        default=0,
        metavar="N",
        help="devices turn lights off and ventilation to a minimum after N missed controller "
        "heartbeats (default 0: never; docs/operations.md)",
    )


def run(args: argparse.Namespace) -> int:
    """Run until Ctrl-C, SIGTERM or --duration; 0 on a clean stop, 1 on bad input."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        setup = prepare(args)
        if args.write_campus:
            return 0
        broker = parse_broker_url(args.broker)
        anchor = args.clock_anchor if args.clock_anchor is not None else time.time()
        start = setup.start if setup.start is not None else anchor
        clock = ScaledClock(start, args.speed, anchor)
        serial_specs = parse_specs(args.serial, setup.campus)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"campusctl simulate: {exc}", file=sys.stderr)
        return 1
    campus = without_mqtt(setup.campus, serial_specs)
    world = World(
        campus,
        setup.seed,
        clock.now(),
        report_interval=args.report_interval,
        conditions=setup.conditions,
    )
    fallback = FallbackSettings(missed=args.fallback_after) if args.fallback_after > 0 else None
    runner = SimulatorRunner(world, clock, broker, step=args.step, fallback=fallback)
    log.info(
        "simulating %d rooms of %s at %gx against %s",
        len(world.room_ids),
        campus.site.name,
        args.speed,
        broker,
    )
    serial = build_simulator(world, serial_specs) if serial_specs else None
    asyncio.run(_serve(runner, args.duration, serial, serial_specs))
    log.info("stopped: %s", summary(world))
    return 0


async def _serve(
    runner: SimulatorRunner,
    duration: float | None,
    serial: SerialSimulator | None = None,
    serial_specs: list[SerialSpec] | None = None,
) -> None:
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, runner.stop)
    timer = loop.call_later(duration, runner.stop) if duration is not None else None
    try:
        async with contextlib.AsyncExitStack() as stack:
            if serial is not None:
                await stack.enter_async_context(serial)
                announce(serial, serial_specs or [], sys.stdout)
            await runner.run()
    finally:
        if timer is not None:
            timer.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)


@dataclass(frozen=True)
class Setup:
    """What `simulate` runs, from --config or --scenario and the flags that override it."""

    campus: Campus
    conditions: Conditions
    seed: int
    start: float | None


def prepare(args: argparse.Namespace) -> Setup:
    """The campus, conditions, seed and start; writes --write-campus. Raises ConfigError,
    ValueError or OSError with a message for the user."""
    if args.scenario is None:
        if args.write_campus:
            raise ValueError("--write-campus needs --scenario (a campus.yaml is already one)")
        campus = _load_campus(args.config)
        start = parse_start(args.start, campus.site.timezone) if args.start else None
        return Setup(campus, Conditions(), args.seed or 0, start)
    scenario = load_scenario(Path(args.scenario))
    if args.write_campus:
        Path(args.write_campus).write_text(scenario.campus_yaml, encoding="utf-8")
        log.info("wrote %s (%d rooms)", args.write_campus, len(scenario.campus.rooms))
    timezone = scenario.campus.site.timezone
    start = parse_start(args.start, timezone) if args.start else scenario.start
    seed = scenario.seed if args.seed is None else args.seed
    return Setup(scenario.campus, scenario.conditions, seed, start)


def summary(world: World) -> str:
    """Simulated time covered and the energy the campus used (lighting, fans, heating)."""
    truths = world.truths().values()
    lighting = sum(t.lighting_wh for t in truths) / 1000.0
    fans = sum(t.fan_wh for t in truths) / 1000.0
    heating = sum(t.heating_wh for t in truths) / 1000.0
    until = datetime.fromtimestamp(world.now, ZoneInfo(world.campus.site.timezone))
    return (
        f"{counted(len(truths), 'room')}, simulated up to {until:%Y-%m-%d %H:%M}; "
        f"lighting {lighting:.2f} kWh, fans {fans:.2f} kWh, heating {heating:.2f} kWh"
    )


def _load_campus(path: str) -> Campus:
    return load_campus(Path(path))
