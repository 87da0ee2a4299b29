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
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
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
from tui.options import TuiOptions, login_name

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


@dataclass(frozen=True)
class DemoFiles:
    """Where one demo keeps its state and its log: a folder of its own, so a rule disabled in
    one demo is not disabled in the next, and two demos at once do not share a log."""

    folder: Path
    state: Path
    kept: bool
    """The state file was given (``--state FILE``): kept from one demo to the next."""

    @property
    def log(self) -> Path:
        return self.folder / "demo.log"


def demo_files(state: Path | Literal["auto"] | None) -> DemoFiles:
    """A new folder in the temp folder; the state file in it unless `state` names one."""
    folder = Path(tempfile.mkdtemp(prefix="campusctl-demo-"))
    if isinstance(state, Path):
        return DemoFiles(folder, state, kept=True)
    return DemoFiles(folder, folder / "state.sqlite", kept=False)


async def run_demo(campus: Campus, rules: RuleSet, options: DemoOptions) -> int:
    console = Console(width=None if sys.stdout.isatty() else 100)
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    files = demo_files(options.service.state)
    kept = "kept across demos" if files.kept else "this demo's own; --state FILE keeps one"
    _plain(console, f"state: {files.state} ({kept})")
    _plain(console, f"log: {files.log}")
    staff_tui = not options.headless and sys.stdout.isatty()
    with log_to_file(files.log, only=staff_tui):
        code = await _run(campus, rules, options, files=files, console=console, staff_tui=staff_tui)
    if staff_tui:
        _plain(console, f"the demo's log: {files.log}")
    return code


def _plain(console: Console, text: str) -> None:
    """A line with paths in it: not wrapped, not styled, so it can be copied."""
    console.print(text, soft_wrap=True, markup=False, highlight=False)


async def _run(
    campus: Campus,
    rules: RuleSet,
    options: DemoOptions,
    *,
    files: DemoFiles,
    console: Console,
    staff_tui: bool,
) -> int:
    external = options.service.broker_url if options.external_broker else None
    async with _broker(external, options.embedded_broker) as broker:
        _plain(
            console,
            f"broker: {broker.kind} at {broker.url} (campusctl status, override, rules explain... "
            f"find it by mDNS on this machine, or give them --broker {broker.url})",
        )
        clock = ScaledClock(options.start, options.speed)
        service = replace(options.service, broker_url=broker.url, state=files.state)
        controller = build_controller(campus, rules, clock, service)  # refuses bad options
        log_file = files.log if staff_tui else None
        simulator = await start_simulator(options.config, broker.url, clock, log_file, options.seed)
        task = asyncio.create_task(controller.run(), name="controller")
        try:
            if staff_tui:
                user = login_name()
                tui = TuiOptions(parse_broker_url(broker.url), site=campus.site.id, user=user)
                await show_tui(tui, [task])
            else:
                await _show(controller, task, options, console)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await stop_process(simulator)
    if options.headless:
        console.print(summary_table(controller))
        missing = [r for r, s in controller.rooms.items() if not s.readings or not s.commands]
        if missing:
            console.print(f"rooms without readings or commands: {', '.join(missing)}")
            return 1
    return 0


@contextlib.contextmanager
def log_to_file(path: Path, only: bool) -> Iterator[None]:
    """The demo's log file; `only`: the file alone, while the TUI owns the terminal (the
    simulator's log goes there too)."""
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    before = list(root.handlers)
    if only:
        for old in before:
            root.removeHandler(old)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        for old in before:
            if old not in root.handlers:
                root.addHandler(old)


async def show_tui(options: TuiOptions, tasks: Sequence[asyncio.Task[None]]) -> None:
    """The staff TUI until the user quits (or SIGTERM), or one of `tasks` (the demo's
    controllers) stops; a controller's error is raised."""
    from tui.main import run_app_async

    app = asyncio.create_task(run_app_async(options), name="tui")
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, app.cancel)
    try:
        await asyncio.wait({app, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        if not app.done():
            app.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await app
    for task in tasks:
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


async def start_simulator(
    config: Path, broker_url: str, clock: ScaledClock, log_file: Path | None = None, seed: int = 1
) -> asyncio.subprocess.Process:
    """`campusctl simulate` of `config` on the demo's clock, in a process of its own (as it
    would run against real devices); its log to `log_file` (None: stderr)."""
    args = [
        sys.executable, "-m", "controller.cli", "simulate",
        "--config", str(config),
        "--broker", broker_url,
        "--speed", str(clock.speed),
        "--start", str(clock.start),
        "--clock-anchor", str(clock.anchor),
        "--seed", str(seed),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with contextlib.ExitStack() as files:
        stderr = files.enter_context(log_file.open("a")) if log_file is not None else None
        return await asyncio.create_subprocess_exec(
            *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )  # fmt: skip


async def stop_process(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, 5 s, then SIGKILL."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=5)
    except TimeoutError:
        process.kill()
        await process.wait()
