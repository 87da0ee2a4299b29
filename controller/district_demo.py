"""`campusctl demo --district N`: N schools of different sizes, each with its own Mosquitto,
simulated devices and controller, their brokers bridged to a district Mosquitto
(controller/district.py), and the district's picture of them.

The schools' campuses are generated from scenarios of the example campus's room kinds
(simulators/scenario.py): a small, a middle and a large school, then more of the middle size.
Mosquitto is required: the embedded broker cannot bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from rich.console import Console

from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock
from campus.mqttclient import paho_client
from campus.problems import CampusError
from controller.broker import mosquitto_binary, running_mosquitto
from controller.demo import (
    DemoOptions,
    demo_files,
    log_to_file,
    show_tui,
    start_simulator,
    stop_process,
)
from controller.district import bridge_config
from controller.service import build_controller
from rules.loader import load_rules
from simulators.scenario import load_scenario
from tui.district import DistrictState, filters, portfolio_table
from tui.options import TuiOptions, login_name

log = logging.getLogger("campusctl.demo")

SCHOOLS = (
    ("north", "North School", 1, 6),
    ("south", "South School", 2, 8),
    ("east", "East School", 3, 10),
)
"""(site id, name, buildings, classrooms per building): a small, a middle, a large school."""


def school_plan(count: int) -> list[tuple[str, str, int, int]]:
    if count < 1:
        raise CampusError("--district needs at least one school")
    plan = list(SCHOOLS[:count])
    plan += [(f"school-{n}", f"School {n}", 2, 8) for n in range(len(plan) + 1, count + 1)]
    return plan


def scenario_text(site: str, name: str, buildings: int, classrooms: int, kinds: Path) -> str:
    rooms = (
        f"      - {{kind: classroom, count: {classrooms}, capacity: [20, 30], area: [52, 66], "
        "orientations: [N, E, S, W]}\n"
        "      - {kind: lab, count: 1, capacity: [20, 26], area: [75, 90], orientations: [E]}\n"
        "      - {kind: corridor, count: 1, prefix: hall, area: [60, 120], orientations: [none]}\n"
    )
    return (
        f"site: {{id: {site}, name: {name}, timezone: Europe/Oslo}}\n"
        f"kinds_from: {json.dumps(str(kinds))}\n"
        f"seed: {len(site)}\n"
        "buildings:\n"
        f"  - id: b\n    name: Building\n    count: {buildings}\n    rooms:\n{rooms}"
    )


@dataclass
class _School:
    site: str
    config: Path
    url: str = ""


async def run_district_demo(count: int, options: DemoOptions) -> int:
    if mosquitto_binary() is None:
        raise CampusError(
            "the district demo needs Mosquitto, which bridges the schools' brokers to the "
            "district's (the embedded broker cannot): apt-get install mosquitto"
        )
    console = Console(width=None if sys.stdout.isatty() else 160)
    files = demo_files(None)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="campusctl-district-")))
        district = stack.enter_context(running_mosquitto(tmp / "district"))
        console.print(f"district broker: {district.url}", soft_wrap=True, highlight=False)
        console.print(f"log: {files.log}", soft_wrap=True, highlight=False)
        stack.enter_context(log_to_file(files.log, only=True))
        kinds = options.config.resolve()
        clock = ScaledClock(options.start, options.speed)
        tasks: list[asyncio.Task[None]] = []
        simulators: list[asyncio.subprocess.Process] = []
        try:
            for site, name, buildings, classrooms in school_plan(count):
                scenario_file = tmp / f"{site}.scenario.yaml"
                scenario_file.write_text(scenario_text(site, name, buildings, classrooms, kinds))
                scenario = load_scenario(scenario_file)
                config = tmp / f"{site}.campus.yaml"
                config.write_text(scenario.campus_yaml)
                campus = scenario.campus
                bridge = bridge_config(site, parse_broker_url(district.url))
                broker = stack.enter_context(running_mosquitto(tmp / site, extra=bridge))
                rules = load_rules(options.rules, campus)
                service = replace(
                    options.service,
                    broker_url=broker.url,
                    state=files.folder / f"{site}.sqlite",
                    discovery=False,
                )
                controller = build_controller(campus, rules, clock, service)
                tasks.append(asyncio.create_task(controller.run(), name=f"controller-{site}"))
                simulators.append(await start_simulator(config, broker.url, clock, files.log))
                console.print(
                    f"{name}: {len(campus.rooms)} rooms, broker {broker.url}",
                    soft_wrap=True,
                    highlight=False,
                )
            state = DistrictState()
            watcher = watch(district.url, state)
            try:
                if options.headless or not sys.stdout.isatty():
                    await _wait(options.duration, tasks)
                else:
                    user = login_name()
                    tui = TuiOptions(parse_broker_url(district.url), district=True, user=user)
                    await show_tui(tui, tasks)
            finally:
                watcher.disconnect()
                watcher.loop_stop()
            console.print(portfolio_table(state, f"District of {count} schools"))
            missing = [site for site, *_ in school_plan(count) if site not in state.schools]
            if missing:
                console.print(f"schools never seen on the district broker: {', '.join(missing)}")
                return 1
            return 0
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for process in simulators:
                await stop_process(process)


def watch(url: str, state: DistrictState) -> mqtt.Client:
    """A paho client on the district broker feeding `state` (its network thread)."""
    client, address = paho_client(
        parse_broker_url(url), f"campusctl-district-{time.time_ns()}", reconnect_max=5
    )

    def on_connect(c: mqtt.Client, *_: Any) -> None:
        c.subscribe([(f, 1) for f in filters()])

    def on_message(c: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        state.apply_raw(message.topic, bytes(message.payload))

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(address.host, address.port)
    client.loop_start()
    return client


async def _wait(duration: float | None, tasks: list[asyncio.Task[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        end = None if duration is None else time.monotonic() + duration
        while not stop.is_set() and not any(t.done() for t in tasks):
            if end is not None and time.monotonic() >= end:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
