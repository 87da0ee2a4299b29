"""``campusctl simulate``: run the simulated campus against a broker.

The controller's CLI adds this subcommand with `add_arguments` and calls `run`. The simulator and
the controller can share one `ScaledClock`: give both the same ``--start``, ``--speed`` and
``--clock-anchor`` and they read the same simulated time.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from campus.broker import parse_broker_url
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from campus.model import Campus
from campus.problems import ConfigError
from simulators.mqtt import SimulatorRunner
from simulators.world import World

log = logging.getLogger("campusctl.sim")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="campus.yaml to simulate")
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
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
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


def run(args: argparse.Namespace) -> int:
    """Run until Ctrl-C, SIGTERM or --duration; 0 on a clean stop, 1 on bad input."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        campus = _load_campus(args.config)
        broker = parse_broker_url(args.broker)
        anchor = args.clock_anchor if args.clock_anchor is not None else time.time()
        start = parse_start(args.start, campus.site.timezone) if args.start else anchor
        clock = ScaledClock(start, args.speed, anchor)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"campusctl simulate: {exc}", file=sys.stderr)
        return 1
    world = World(campus, args.seed, clock.now(), report_interval=args.report_interval)
    runner = SimulatorRunner(world, clock, broker, step=args.step)
    log.info(
        "simulating %d rooms of %s at %gx against %s",
        len(world.room_ids),
        campus.site.name,
        args.speed,
        broker,
    )
    asyncio.run(_serve(runner, args.duration))
    log.info("stopped: %s", summary(world))
    return 0


async def _serve(runner: SimulatorRunner, duration: float | None) -> None:
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, runner.stop)
    timer = loop.call_later(duration, runner.stop) if duration is not None else None
    try:
        await runner.run()
    finally:
        if timer is not None:
            timer.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)


def summary(world: World) -> str:
    """Simulated time covered and the energy the campus used (lighting, fans, heating)."""
    truths = world.truths().values()
    lighting = sum(t.lighting_wh for t in truths) / 1000.0
    fans = sum(t.fan_wh for t in truths) / 1000.0
    heating = sum(t.heating_wh for t in truths) / 1000.0
    until = datetime.fromtimestamp(world.now, ZoneInfo(world.campus.site.timezone))
    return (
        f"{len(truths)} rooms, simulated up to {until:%Y-%m-%d %H:%M}; "
        f"lighting {lighting:.2f} kWh, fans {fans:.2f} kWh, heating {heating:.2f} kWh"
    )


def _load_campus(path: str) -> Campus:
    return load_campus(Path(path))
