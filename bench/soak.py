"""Soak: a bounded run at ten times a campus's real rate, watching memory and every queue.

A campus of `--rooms` classrooms (the demo campus's kinds and rules, 50 rooms a building) runs
for `--minutes` simulated minutes on a fresh Mosquitto. The simulator (its own process, so it
does not share the controller's event loop) reports every multisensor once per 6 simulated
seconds: ten times the normal once a minute. A ScaledClock at `--speed` puts 30 simulated
minutes into three wall minutes, so the controller takes about 1,700 readings a wall second for
200 rooms. The controller runs in this process, as `campusctl run` builds it, so its internal
queues can be read while it works.

Sampled every `--sample` wall seconds: the process's RSS, the drivers' readings queues, the
controller's inbox, the MQTT driver's outbox and held commands, and paho's packet queue (no
history buffer: the soak configures no InfluxDB). Reported per series: first, last, max, and
the least-squares slope over the second half of the run (the first half holds the start-up and
the first lessons). Pass: memory flat (second-half growth by the slope under 2 MB or 2 %) and
no growing queue (second-half growth under 50 items, last sample under 1,000).

    .venv/bin/python -m bench.soak [--minutes 30] [--rooms 200] [--speed 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import EXAMPLES, Progress, write_json
from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from controller.broker import running_mosquitto
from controller.runtime import Controller
from controller.service import ServiceOptions, build_controller
from drivers.mqtt import MqttDriver
from rules.loader import load_rules

ROOMS_PER_BUILDING = 50
REPORT_INTERVAL = 6.0
"""Simulated seconds between two reports of a multisensor: 10x the normal 60 s."""
START = "2026-11-23 08:00"
"""A Monday morning: lessons start, rooms fill, rules fire."""
MEMORY_TOLERANCE_MB = 2.0
MEMORY_TOLERANCE = 0.02
QUEUE_TOLERANCE = 50.0
QUEUE_CEILING = 1000.0


def campus_yaml(rooms: int, folder: Path) -> Path:
    """The demo campus's site, timetable and kinds with `rooms` classrooms."""
    data = yaml.safe_load((EXAMPLES / "campus.yaml").read_text(encoding="utf-8"))
    data["site"]["id"] = "soak"
    buildings = []
    for index, first in enumerate(range(0, rooms, ROOMS_PER_BUILDING)):
        count = min(ROOMS_PER_BUILDING, rooms - first)
        last = f"..r{100 + count}" if count > 1 else ""
        spec = {"id": "r101" + last, "kind": "classroom", "capacity": 28, "area": 60}
        buildings.append({"id": f"b{index + 1}", "name": f"Block {index + 1}", "rooms": [spec]})
    data["buildings"] = buildings
    path = folder / "campus.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def simulate(path: str, url: str, start: float, speed: float, anchor: float) -> None:
    """The simulator's process: the same campus and clock, until terminated."""
    from simulators.mqtt import SimulatorRunner
    from simulators.world import World

    campus = load_campus(Path(path))
    clock = ScaledClock(start, speed, anchor)
    world = World(campus, seed=11, start=clock.now(), report_interval=REPORT_INTERVAL)
    runner = SimulatorRunner(world, clock, parse_broker_url(url), step=2.0, client_id="soak-sim")
    asyncio.run(runner.run())


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def queues(controller: Controller) -> dict[str, float]:
    """The controller's queue lengths now (the inbox is a private field: no public API exposes
    it, and the soak must not change what it measures)."""
    found: dict[str, float] = {}
    for driver in controller.drivers:
        found[f"{driver.name}_readings"] = driver.readings.qsize()
    found["controller_inbox"] = controller._inbox.qsize()
    mqtt = controller.driver("mqtt")
    if isinstance(mqtt, MqttDriver):
        found.update(mqtt.backlog())
    return found


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (0 with fewer than two points)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def summarise(minutes: list[float], series: dict[str, list[float]]) -> dict[str, Any]:
    """first/last/max and the second half's slope (per simulated minute) and growth."""
    half = len(minutes) // 2
    span = minutes[-1] - minutes[half] if minutes[half:] else 0.0
    out: dict[str, Any] = {}
    for name, values in series.items():
        per_minute = slope(minutes[half:], values[half:])
        out[name] = {
            "first": values[0],
            "last": values[-1],
            "max": max(values),
            "slope_per_min": round(per_minute, 4),
            "second_half_growth": round(per_minute * span, 3),
        }
    return out


def verdict(summary: dict[str, Any]) -> tuple[bool, list[str]]:
    lines = []
    ok = True
    for name, s in summary.items():
        if name == "rss_mb":
            limit = max(MEMORY_TOLERANCE_MB, MEMORY_TOLERANCE * s["first"])
            good = s["second_half_growth"] < limit
            lines.append(
                f"memory {'flat' if good else 'GROWING'}: RSS {s['first']:.1f} -> {s['last']:.1f} "
                f"MB (max {s['max']:.1f}), second-half growth {s['second_half_growth']:+.2f} MB "
                f"(limit {limit:.1f})"
            )
        else:
            good = s["second_half_growth"] < QUEUE_TOLERANCE and s["last"] < QUEUE_CEILING
            lines.append(
                f"queue {name} {'steady' if good else 'GROWING'}: first {s['first']:g}, "
                f"last {s['last']:g}, max {s['max']:g}, second-half growth "
                f"{s['second_half_growth']:+.1f}"
            )
        ok = ok and good
    return ok, lines


async def soak(args: argparse.Namespace, folder: Path, url: str) -> dict[str, Any]:
    path = campus_yaml(args.rooms, folder)
    campus = load_campus(path)
    ruleset = load_rules([EXAMPLES / "rules"], campus)
    clock = ScaledClock(parse_start(START, campus.site.timezone), args.speed)
    options = ServiceOptions(
        broker_url=url, client_id="soak-controller", settle=5.0, state=None, watch_rules=0
    )
    controller = build_controller(campus, ruleset, clock, options)
    context = multiprocessing.get_context("spawn")
    simulator = context.Process(
        target=simulate,
        args=(str(path), url, clock.start, clock.speed, clock.anchor),
        name="soak-simulator",
    )
    run = asyncio.create_task(controller.run())
    await asyncio.wait_for(controller.ready.wait(), 30)
    simulator.start()
    end = clock.start + args.minutes * 60.0
    progress = Progress(args.minutes, "soak")
    minutes: list[float] = []
    series: dict[str, list[float]] = {"rss_mb": []}
    cpu_before = time.process_time()
    wall_before = time.monotonic()
    try:
        while clock.now() < end:
            await asyncio.sleep(args.sample)
            elapsed = (clock.now() - clock.start) / 60.0
            minutes.append(elapsed)
            series["rss_mb"].append(round(rss_mb(), 2))
            for name, length in queues(controller).items():
                series.setdefault(name, []).append(length)
            progress.update(elapsed, f"{controller.readings} readings")
            if not simulator.is_alive():
                raise RuntimeError("the simulator process stopped")
    finally:
        progress.done()
        simulator.terminate()
        simulator.join(10)
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
    wall = time.monotonic() - wall_before
    summary = summarise(minutes, series)
    ok, lines = verdict(summary)
    return {
        "rooms": args.rooms,
        "simulated_minutes": args.minutes,
        "speed": args.speed,
        "report_interval_s": REPORT_INTERVAL,
        "wall_s": round(wall, 1),
        "samples": len(minutes),
        "readings": controller.readings,
        "readings_per_wall_s": round(controller.readings / wall, 1),
        "commands": controller.commands,
        "alarms": len(controller.alarms),
        "cpu_pct": round(100.0 * (time.process_time() - cpu_before) / wall, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "series": summary,
        "samples_raw": {"minutes": [round(m, 3) for m in minutes], **series},
        "pass": ok,
        "verdict": lines,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="simulated minutes (30)")
    parser.add_argument("--rooms", type=int, default=200, help="classrooms (200)")
    parser.add_argument("--speed", type=float, default=10.0, help="clock speed (10)")
    parser.add_argument("--sample", type=float, default=1.0, help="wall seconds between samples")
    parser.add_argument("--json", default=None, metavar="FILE")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="campusctl-soak-") as tmp:
        folder = Path(tmp)
        with running_mosquitto(folder / "mosquitto") as broker:
            figures = asyncio.run(soak(args, folder, broker.url))
    print(
        f"soak: {figures['rooms']} rooms, {figures['simulated_minutes']:g} simulated min at "
        f"x{figures['speed']:g} in {figures['wall_s']:.0f} s wall; {figures['readings']} readings "
        f"({figures['readings_per_wall_s']:.0f}/s), {figures['commands']} commands, "
        f"{figures['cpu_pct']:.0f} % CPU, peak RSS {figures['peak_rss_mb']:.0f} MB"
    )
    for line in figures["verdict"]:
        print("  " + line)
    print("PASS: flat memory, no growing queue" if figures["pass"] else "FAIL: see above")
    write_json(args.json, {"soak": figures})
    return 0 if figures["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
