"""The closed loop without a broker: simulated devices and the rules engine, as fast as the CPU
allows, on virtual time.

`OfflineLoop` moves a `simulators.world.World` forward in steps and carries its messages
through the MQTT driver's payload codec (the same topic index and decoding as live) into the
same `rules.engine.Engine` the controller runs; commands go back through the codec to the
simulated devices. Only the broker and the event loop are left out, so a simulated school week
of fifty rooms takes seconds, not a week: rule authors try rules on a simulated campus before
going live (``campusctl simulate --scenario FILE --no-broker --rules DIR``), and
bench/control_quality.py compares strategies.

Why here: the loop imports the simulators, the engine and the driver's codec, and only the
controller may import all of them (simulators never import the engine).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from campus.model import Campus
from campus.text import counted
from campus.types import Command, Quality, Reading
from drivers.mqtt.codec import decode_availability, decode_state, encode_command
from drivers.mqtt.errors import PayloadError
from drivers.mqtt.routes import build_routes
from rules.engine import Engine
from rules.schema import Rule, RuleSet
from simulators.world import Publish, World

log = logging.getLogger("campusctl.offline")

DEFAULT_STEP = 10.0
"""Simulated seconds per loop step: the engine's timers and the devices' reports are resolved
to this (a hold of 2 minutes ends at most one step late)."""


class OfflineLoop:
    """A World and an Engine wired through the MQTT codec, on the world's own (virtual) time."""

    def __init__(
        self,
        campus: Campus,
        rules: RuleSet | list[Rule],
        world: World,
        *,
        settle: float = 5.0,
        step: float = DEFAULT_STEP,
        on_command: Callable[[Command], None] | None = None,
    ) -> None:
        if step <= 0:
            raise ValueError(f"loop step must be positive, got {step}")
        self.world = world
        self.step = step
        self.engine = Engine(campus, rules, world.now, settle)
        self.on_command = on_command
        self.readings = 0
        self.commands = 0
        self.bad_payloads = 0
        table = build_routes(campus)
        self._routes = table.routes
        self._actuators = table.actuators
        self._started = False

    @property
    def now(self) -> float:
        return self.world.now

    def run_until(self, end: float, *, every: Callable[[float], None] | None = None) -> None:
        """Run the loop to simulated time `end`; call `every(now)` after each step."""
        if not self._started:
            self._started = True
            self._deliver(self.world.start_messages())
        world, engine = self.world, self.engine
        while world.now < end:
            t = min(world.now + self.step, end)
            self._deliver(world.step(t))
            self._send(engine.advance(t))
            if every is not None:
                every(t)

    def _deliver(self, messages: list[Publish]) -> None:
        now = self.world.now
        engine = self.engine
        for topic, payload, _ in messages:
            route = self._routes.get(topic)
            if route is None:
                continue
            if route.state:
                decoded = decode_state(topic, payload, route.state)
                self.bad_payloads += len(decoded.errors)
                message = [
                    Reading(target.id, value, now)
                    for target, value in decoded.values
                    if not target.actuator
                ]
                if message:  # one device message: its readings together, as live
                    self.readings += len(message)
                    self._send(engine.on_message(message))
            if route.availability:
                try:
                    online = decode_availability(topic, payload)
                except PayloadError:
                    self.bad_payloads += 1
                    continue
                if not online:
                    gone = [
                        Reading(target.id, None, now, Quality.UNAVAILABLE)
                        for target in route.availability
                        if not target.actuator
                    ]
                    if gone:
                        self._send(engine.on_message(gone))

    def _send(self, commands: list[Command]) -> None:
        for command in commands:
            bound = self._actuators.get(command.actuator)
            if bound is None:
                continue
            self.commands += 1
            if self.on_command is not None:
                self.on_command(command)
            spec, target = bound
            topic, payload = encode_command(spec, command.value, target)
            self._deliver(self.world.on_message(topic, payload))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`campusctl simulate` flags for a run without a broker."""
    parser.add_argument(
        "--no-broker",
        action="store_true",
        help="run the simulated campus and the rules engine in one process on virtual time, "
        "as fast as possible, and print what the campus used",
    )
    parser.add_argument(
        "--rules",
        type=Path,
        nargs="+",
        default=None,
        help="with --no-broker: rule files or folders (default: examples/rules)",
    )
    parser.add_argument(
        "--days", type=float, default=1.0, help="with --no-broker: simulated days (default 1)"
    )


def run(args: argparse.Namespace, default_rules: list[Path]) -> int:
    """``campusctl simulate --no-broker``: 0 when done, 1 on bad input."""
    from campus.problems import ConfigError
    from rules.loader import load_rules
    from simulators.cli import prepare, summary

    try:
        setup = prepare(args)
        if args.write_campus:
            return 0
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"campusctl simulate: {exc}", file=sys.stderr)
        return 1
    if args.days <= 0:
        print(f"campusctl simulate: --days must be positive, got {args.days}", file=sys.stderr)
        return 1
    ruleset = load_rules(args.rules or default_rules, setup.campus)
    for problem in ruleset.problems:
        print(problem, file=sys.stderr)
    start = setup.start if setup.start is not None else time.time()
    world = World(
        setup.campus,
        setup.seed,
        start,
        report_interval=args.report_interval,
        conditions=setup.conditions,
    )
    loop = OfflineLoop(setup.campus, ruleset, world)
    zone = ZoneInfo(setup.campus.site.timezone)
    began = time.perf_counter()
    loop.run_until(start + args.days * 86400.0)
    took = time.perf_counter() - began
    print(
        f"{datetime.fromtimestamp(start, zone):%Y-%m-%d %H:%M} + {args.days:g} days: "
        f"{counted(loop.readings, 'reading')}, {counted(loop.commands, 'command')} in {took:.1f} s "
        f"({args.days * 86400.0 / took:,.0f}x real time)"
    )
    print(summary(world))
    return 0
