"""`campusctl demo`: a broker, the simulated campus and the controller in one process tree.

The simulator runs as its own process (as it would against real devices) and shares the
controller's accelerated clock through the same start, speed and wall-clock anchor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.live import Live

from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock
from campus.model import Campus
from campus.problems import CampusError
from controller.broker import Broker, mosquitto_binary, running_amqtt, running_mosquitto
from controller.children import die_with_parent
from controller.runtime import Controller
from controller.service import ServiceOptions, build_controller
from controller.summary import summary_table
from rules.schema import RuleSet

log = logging.getLogger("campusctl.demo")


@dataclass(frozen=True)
class DemoOptions:
    config: Path
    rules: list[Path]
    service: ServiceOptions
    external_broker: bool
    embedded_broker: bool
    speed: float
    start: float
    duration: float | None
    headless: bool
    seed: int


def default_start(campus: Campus) -> float:
    """07:50 on the latest school day (today if a weekday): the first lesson starts soon after."""
    tz = ZoneInfo(campus.site.timezone)
    day = datetime.now(tz).date()
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return datetime(day.year, day.month, day.day, 7, 50, tzinfo=tz).timestamp()


async def run_demo(campus: Campus, rules: RuleSet, options: DemoOptions) -> int:
    console = Console(width=None if sys.stdout.isatty() else 100)
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    external = options.service.broker_url if options.external_broker else None
    async with _broker(external, options.embedded_broker) as broker:
        console.print(f"broker: {broker.kind} at {broker.url}")
        clock = ScaledClock(options.start, options.speed)
        staff_tui = not options.headless and sys.stdout.isatty()
        log_file = _log_to_file() if staff_tui else None
        simulator = await _start_simulator(options, broker.url, clock, log_file)
        service = replace(options.service, broker_url=broker.url)
        controller = build_controller(campus, rules, clock, service)
        task = asyncio.create_task(controller.run(), name="controller")
        try:
            if staff_tui:
                await _show_tui(task, broker.url, campus.site.id)
            else:
                await _show(controller, task, options, console)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await _stop(simulator)
    if log_file is not None:
        console.print(f"the demo's log: {log_file}")
    if options.headless:
        console.print(summary_table(controller))
        missing = [r for r, s in controller.rooms.items() if not s.readings or not s.commands]
        if missing:
            console.print(f"rooms without readings or commands: {', '.join(missing)}")
            return 1
    return 0


def _log_to_file() -> Path:
    """While the TUI owns the terminal, the controller and the simulator log to a file."""
    path = Path(tempfile.gettempdir()) / "campusctl-demo.log"
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    return path


async def _show_tui(task: asyncio.Task[None], broker_url: str, site: str) -> None:
    """The staff TUI on the demo campus until the user quits (or the controller stops)."""
    from tui.main import run_app_async
    from tui.options import TuiOptions, login_name

    options = TuiOptions(parse_broker_url(broker_url), site=site, user=login_name())
    app = asyncio.create_task(run_app_async(options), name="tui")
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, app.cancel)
    try:
        await asyncio.wait({app, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        if not app.done():
            app.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await app
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


async def _show(
    controller: Controller, task: asyncio.Task[None], options: DemoOptions, console: Console
) -> None:
    """Wait for the duration (or Ctrl-C), refreshing the live summary unless headless."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    end = None if options.duration is None else time.monotonic() + options.duration
    live = None if options.headless else Live(console=console, auto_refresh=False)
    try:
        if live is not None:
            live.start()
        while not stop.is_set() and not task.done():
            if end is not None and time.monotonic() >= end:
                break
            if live is not None:
                live.update(summary_table(controller), refresh=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
    finally:
        if live is not None:
            live.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


@contextlib.asynccontextmanager
async def _broker(url: str | None, embedded: bool) -> AsyncIterator[Broker]:
    if url is not None:
        try:
            address = parse_broker_url(url)
        except ValueError as exc:
            raise CampusError(str(exc)) from exc
        yield Broker(address.host, address.port, "external")
    elif mosquitto_binary() is not None and not embedded:
        with (
            tempfile.TemporaryDirectory(prefix="campusctl-demo-") as tmp,
            running_mosquitto(Path(tmp)) as broker,
        ):
            yield broker
    else:
        async with running_amqtt() as broker:
            yield broker


async def _start_simulator(
    options: DemoOptions, broker_url: str, clock: ScaledClock, log_file: Path | None = None
) -> asyncio.subprocess.Process:
    args = [
        sys.executable, "-m", "controller.cli", "simulate",
        "--config", str(options.config),
        "--broker", broker_url,
        "--speed", str(clock.speed),
        "--start", str(clock.start),
        "--clock-anchor", str(clock.anchor),
        "--seed", str(options.seed),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with contextlib.ExitStack() as files:
        stderr = files.enter_context(log_file.open("a")) if log_file is not None else None
        return await asyncio.create_subprocess_exec(
            *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )  # fmt: skip


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=5)
    except TimeoutError:
        process.kill()
        await process.wait()
