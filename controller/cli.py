"""The `campusctl` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from campus.clock import Clock, ScaledClock, WallClock, parse_start
from campus.config import CampusFile, load_campus
from campus.model import Campus
from campus.problems import CampusError, ConfigError
from campus.text import counted
from campus.yamlmodel import json_schema
from controller import collector
from controller.runtime import Controller
from controller.service import add_service_arguments, build_controller, service_options
from rules.loader import load_rules
from rules.schema import RuleSet

log = logging.getLogger("campusctl")
REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except CampusError as exc:
        print(f"campusctl: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="campusctl", description=__doc__)
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the controller as a service")
    _campus_args(run)
    add_service_arguments(run, "MQTT broker URL (default mqtt://127.0.0.1:1883)")
    _clock_args(run, default_speed=1.0)
    run.add_argument(
        "--shard",
        default=None,
        metavar="BUILDING[,BUILDING...]",
        help="control only these buildings; other shards run the rest (docs/scaling.md)",
    )
    run.set_defaults(func=cmd_run)

    demo = commands.add_parser("demo", help="broker + simulated campus + controller + summary")
    _campus_args(demo)
    add_service_arguments(
        demo,
        "use this broker instead of starting one",
        state_default="a new file per demo, printed at start; give FILE to keep state",
    )
    demo.add_argument(
        "--embedded-broker",
        action="store_true",
        help="use the built-in amqtt broker even when Mosquitto is installed",
    )
    demo.add_argument("--headless", action="store_true", help="no live view; print a summary")
    demo.add_argument(
        "--duration", type=float, default=None, help="stop after this many wall-clock seconds"
    )
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument(
        "--district",
        type=int,
        metavar="N",
        help="N schools (each its own Mosquitto, devices and controller) bridged to a district "
        "Mosquitto; with --headless, the district's table at the end (docs/district.md)",
    )
    _clock_args(demo, default_speed=60.0)
    demo.set_defaults(func=cmd_demo)

    from simulators.cli import add_arguments as simulate_arguments

    simulate = commands.add_parser("simulate", help="simulated rooms and devices on a broker")
    simulate_arguments(simulate)
    from controller.offline import add_arguments as offline_arguments

    offline_arguments(simulate)
    simulate.set_defaults(func=cmd_simulate)

    from controller.rulescmd import add_rules_commands

    add_rules_commands(commands, EXAMPLES)

    from controller.district import add_district_commands

    add_district_commands(commands)

    from controller.staffcmd import add_staff_commands

    add_staff_commands(commands)

    from tui.options import add_arguments as tui_arguments

    tui = commands.add_parser("tui", help="the facility staff's terminal UI")
    tui_arguments(tui)
    tui.set_defaults(func=cmd_tui)

    config = commands.add_parser("config", help="check campus.yaml, print its JSON Schema")
    config_commands = config.add_subparsers(required=True, metavar="ACTION")
    config_check = config_commands.add_parser("check", help="validate a campus.yaml")
    config_check.add_argument("path", type=Path)
    config_check.set_defaults(func=cmd_config_check)
    schema = config_commands.add_parser("schema", help="print the JSON Schema of campus.yaml")
    schema.set_defaults(func=cmd_config_schema)

    from drivers.serial.cli import add_commands as add_serial_commands

    add_serial_commands(commands)

    from controller.discovery import add_discover_command

    add_discover_command(commands)
    return parser


def _campus_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=EXAMPLES / "campus.yaml",
        help="campus.yaml (default: the demo campus)",
    )
    parser.add_argument(
        "--rules",
        type=Path,
        nargs="+",
        default=[EXAMPLES / "rules"],
        help="rule files or folders (default: the demo rules)",
    )


def _clock_args(parser: argparse.ArgumentParser, default_speed: float) -> None:
    parser.add_argument(
        "--speed",
        type=float,
        default=default_speed,
        help=f"clock seconds per wall second (default {default_speed:g})",
    )
    parser.add_argument(
        "--start",
        default=None,
        help="clock start: local time like '2026-11-23 07:50' or POSIX seconds",
    )
    parser.add_argument("--clock-anchor", type=float, default=None, help=argparse.SUPPRESS)


def make_clock(args: argparse.Namespace, campus: Campus, default_start: float) -> Clock:
    if args.speed == 1.0 and args.start is None:
        return WallClock()
    start = default_start if args.start is None else parse_start(args.start, campus.site.timezone)
    return ScaledClock(start, args.speed, args.clock_anchor)


def load_rules_or_fail(paths: list[Path], campus: Campus) -> RuleSet:
    ruleset = load_rules(paths, campus)
    for problem in ruleset.problems:
        print(problem, file=sys.stderr)
    if not ruleset.rules:
        raise CampusError("no rule loaded: fix the errors above")
    return ruleset


def cmd_run(args: argparse.Namespace) -> int:
    with collector.paused(freeze=True):
        campus = load_campus(args.config)
        ruleset = load_rules_or_fail(args.rules, campus)
        clock = make_clock(args, campus, time.time())
        options = service_options(args)
        from controller.shard import Claim, claim_shard, claim_site

        claim: Claim | None
        if args.shard is not None:
            campus, ruleset, options, claim = claim_shard(args.shard, campus, ruleset, options)
        else:
            claim = claim_site(campus, options)
        controller = build_controller(campus, ruleset, clock, options)
    try:
        work = until_signalled(controller.run(), on_hangup=lambda: reload_on_hangup(controller))
        asyncio.run(work)
    finally:
        if claim is not None:
            claim.release()
    return 0


def reload_on_hangup(controller: Controller) -> None:
    """SIGHUP: reload the rules (errors are in the report and the log, never fatal)."""
    try:
        controller.reload_rules("SIGHUP")
    except CampusError as exc:
        log.error("reload on SIGHUP failed: %s", exc)


async def until_signalled(
    work: Coroutine[Any, Any, None], on_hangup: Callable[[], None] | None = None
) -> None:
    """Run `work` until SIGINT or SIGTERM, then cancel it so it shuts down in order.

    `on_hangup` runs on each SIGHUP (the controller reloads its rules)."""
    task = asyncio.create_task(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    if on_hangup is not None:
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def cmd_demo(args: argparse.Namespace) -> int:
    from controller.demo import DemoOptions, default_start, run_demo

    if args.district is not None and args.broker is not None:
        raise CampusError("--district starts its own brokers: drop --broker")
    campus = load_campus(args.config)
    ruleset = load_rules_or_fail(args.rules, campus)
    start = (
        default_start(campus)
        if args.start is None
        else parse_start(args.start, campus.site.timezone)
    )
    options = DemoOptions(
        config=args.config,
        rules=args.rules,
        service=service_options(args),
        external_broker=args.broker is not None,
        embedded_broker=args.embedded_broker,
        speed=args.speed,
        start=start,
        duration=args.duration,
        headless=args.headless,
        seed=args.seed,
    )
    if args.district is not None:
        from controller.district_demo import run_district_demo

        return asyncio.run(run_district_demo(args.district, options))
    return asyncio.run(run_demo(campus, ruleset, options))


def cmd_tui(args: argparse.Namespace) -> int:
    from tui.main import run

    return run(args)


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.no_broker:
        from controller.offline import run as run_offline

        return run_offline(args, [EXAMPLES / "rules"])
    from simulators.cli import run

    return run(args)


def cmd_config_check(args: argparse.Namespace) -> int:
    with collector.paused():
        campus = load_campus(args.path)
    rooms = campus.rooms
    print(
        f"{args.path}: {counted(len(campus.buildings), 'building')}, "
        f"{counted(len(rooms), 'room')}, {counted(sum(len(r.points) for r in rooms), 'point')}, "
        f"{counted(sum(len(r.actuators) for r in rooms), 'actuator')}"
    )
    return 0


def cmd_config_schema(args: argparse.Namespace) -> int:
    print(json.dumps(campus_schema(), indent=2))
    return 0


def campus_schema() -> dict[str, object]:
    schema = json_schema(CampusFile)
    schema["title"] = "campusctl campus.yaml"
    return schema


if __name__ == "__main__":
    sys.exit(main())
