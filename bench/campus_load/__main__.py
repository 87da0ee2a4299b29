"""campus-load: how many readings a second each engine turns into exactly the right commands.

    .venv/bin/python -m bench.campus_load [--rooms R] [--seconds S] [--hold H] [--json FILE]
                                          [--engines ceiling,script,nodered,campusctl]

For each engine in turn, on a fresh Mosquitto (TCP_NODELAY, queues raised): a run of H seconds
at 1,000 readings/s (latency p50/p99 and CPU %; as long as a hold, so the p99 rests on ~1,300
commands, not the ~430 of a 10 s step), then steps of S seconds at rising rates until one fails
(a missing or extra command, p99 >= 1 s, or the host cannot even send the rate), one step
between the last good and the failed rate on a fresh process, and a hold of H seconds at the
best rate on a fresh process to confirm it (short steps overstate what an engine sustains); if
the hold fails, 20 % less is held again, down to 1,000/s. CPU µs per reading comes from the engine's
/proc/<pid>/stat over the hold, RSS is its peak (VmHWM).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.campus_load import nodered
from bench.campus_load.generator import CpuProbe, Generator, StepResult
from bench.campus_load.workload import RULES_YAML, campus_yaml
from bench.common import REPO, write_json
from controller.broker import free_port, running_mosquitto

ENGINES = ("ceiling", "script", "nodered", "campusctl")
VARIANTS = ("campusctl-core",)
"""Measured on request (--engines), reported apart: campusctl without its extensions."""
HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
FIRST_STEP = 4000.0
GROWTH = 1.3
MAX_RATE = 200_000.0
HOLD_BACKOFF = 0.8
"""A failed hold is tried again this much lower, on a fresh process, down to 1,000/s."""


@dataclass
class EngineResult:
    name: str
    max_rate: float = 0.0
    us_per_reading: float | None = None
    p50_ms_at_1k: float | None = None
    p99_ms_at_1k: float | None = None
    cpu_pct: float | None = None
    rss_mb: float | None = None
    note: str = ""

    def figures(self) -> dict[str, Any]:
        def r(x: float | None, digits: int) -> float | None:
            return None if x is None else round(x, digits)

        return {
            "max_rate": round(self.max_rate),
            "us_per_reading": r(self.us_per_reading, 2),
            "p50_ms_at_1k": r(self.p50_ms_at_1k, 3),
            "p99_ms_at_1k": r(self.p99_ms_at_1k, 3),
            "cpu_pct": r(self.cpu_pct, 1),
            "rss_mb": r(self.rss_mb, 1),
        }


def engine_command(name: str, port: int, workdir: Path, rooms: int) -> list[str]:
    if name == "ceiling":
        return [PYTHON, str(HERE / "ceiling.py"), str(port)]
    if name == "script":
        return [PYTHON, str(HERE / "script.py"), str(port)]
    if name == "nodered":
        return nodered.command(workdir / "nodered", port, free_port())
    config, rules = workdir / "campus.yaml", workdir / "rules.yaml"
    config.write_text(campus_yaml(rooms))
    rules.write_text(RULES_YAML)
    if name == "campusctl-core":
        return [PYTHON, str(HERE / "core.py"), str(port), str(config), str(rules)]
    campusctl = Path(PYTHON).parent / "campusctl"
    return [
        str(campusctl),
        "--log-level",
        "warning",
        "run",
        "--config",
        str(config),
        "--rules",
        str(rules),
        "--broker",
        f"mqtt://127.0.0.1:{port}",
        "--settle",
        "1",
        "--no-discovery",
    ]


@contextlib.contextmanager
def engine_session(
    name: str, port: int, workdir: Path, rooms: int
) -> Iterator[tuple[Generator, CpuProbe]]:
    """A fresh engine process and a generator connected to it, ready for load."""
    log = (workdir / f"{name}.log").open("ab")
    shutil.rmtree(workdir / "var", ignore_errors=True)  # campusctl's saved state: start fresh
    proc = subprocess.Popen(
        engine_command(name, port, workdir, rooms),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        start_new_session=True,
    )
    generator = None
    try:
        generator = Generator(port, rooms, counts_only=name == "ceiling")
        generator.wait_ready(timeout=120.0)
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {log.name}")
        yield generator, CpuProbe(proc.pid)
    finally:
        if generator is not None:
            generator.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def measure(
    name: str,
    port: int,
    workdir: Path,
    *,
    rooms: int,
    seconds: float,
    hold: float,
    max_rate: float = MAX_RATE,
) -> EngineResult:
    result = EngineResult(name)
    say(f"\n== {name}")
    with engine_session(name, port, workdir, rooms) as (gen, cpu):
        at_1k = gen.step(1000.0, hold, cpu)
        say(f"  1k   {at_1k.line()}")
        result.p50_ms_at_1k, result.p99_ms_at_1k = at_1k.p50_ms, at_1k.p99_ms
        result.cpu_pct = 100.0 * at_1k.cpu_seconds / max(1e-9, at_1k.seconds)
        best, failed = 1000.0 if at_1k.sustained else 0.0, None
        rate = FIRST_STEP
        while at_1k.sustained and rate <= max_rate:
            step = gen.step(rate, seconds, cpu)
            say(f"  step {step.line()}")
            if not step.sustained:
                failed = step
                break
            best = rate
            rate *= GROWTH
    if failed is not None and best > 0:
        middle = (best * failed.rate) ** 0.5
        with engine_session(name, port, workdir, rooms) as (gen, cpu):
            step = gen.step(middle, seconds, cpu)
            say(f"  mid  {step.line()}")
            if step.sustained:
                best = middle
    held: StepResult | None = None
    while best >= 1000.0:
        with engine_session(name, port, workdir, rooms) as (gen, cpu):
            held = gen.step(best, hold, cpu)
            say(f"  hold {held.line()}")
            result.rss_mb = cpu.peak_rss_mb()
        if held.sustained:
            break
        best *= HOLD_BACKOFF
    if held is None or not held.sustained:
        result.note = "no hold passed at 1,000/s or more"
    if held is not None and held.sustained:
        result.max_rate = held.achieved_rate
        result.us_per_reading = 1e6 * held.cpu_seconds / held.sent
    return result


def say(text: str) -> None:
    print(text, flush=True)


def table(results: list[EngineResult]) -> str:
    ceiling = next((r.max_rate for r in results if r.name == "ceiling"), 0.0)
    header = (
        f"{'engine':<10} {'max msg/s':>9} {'of ceiling':>10} {'µs/reading':>10} "
        f"{'p50@1k ms':>9} {'p99@1k ms':>9} {'CPU%@1k':>7} {'RSS MB':>7}"
    )
    lines = [header, "-" * len(header)]

    def f(x: float | None, fmt: str) -> str:
        return "n/a" if x is None else format(x, fmt)

    for r in results:
        share = f"{100 * r.max_rate / ceiling:.0f} %" if ceiling else "n/a"
        lines.append(
            f"{r.name:<10} {r.max_rate:9.0f} {share:>10} {f(r.us_per_reading, '.1f'):>10} "
            f"{f(r.p50_ms_at_1k, '.3f'):>9} {f(r.p99_ms_at_1k, '.3f'):>9} "
            f"{f(r.cpu_pct, '.1f'):>7} {f(r.rss_mb, '.0f'):>7} {r.note}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.campus_load", description=__doc__)
    parser.add_argument("--rooms", type=int, default=1000, help="simulated rooms (default 1000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="step length (default 10)")
    parser.add_argument("--hold", type=float, default=30.0, help="confirmation hold (default 30)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset")
    parser.add_argument(
        "--max-rate", type=float, default=MAX_RATE, help="stop stepping above this rate"
    )
    parser.add_argument("--json", default=None, help="write the figures to this file")
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="skip Node-RED when it is not in the cache instead of installing it with npm",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    unknown = sorted(set(names) - set(ENGINES) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown engines {unknown}; choose from {', '.join(ENGINES + VARIANTS)}")
    if "nodered" in names and not nodered.installed():
        if args.no_install:
            say(f"skipping nodered: not installed in {nodered.FOLDER} (run without --no-install)")
            names.remove("nodered")
        else:
            nodered.install()
    results: list[EngineResult] = []
    with tempfile.TemporaryDirectory(prefix="campus-load-") as tmp:
        for name in names:
            workdir = Path(tmp) / name
            workdir.mkdir()
            with running_mosquitto(workdir / "mosquitto") as broker:
                began = time.monotonic()
                results.append(
                    measure(
                        name,
                        broker.port,
                        workdir,
                        rooms=args.rooms,
                        seconds=args.seconds,
                        hold=args.hold,
                        max_rate=args.max_rate,
                    )
                )
                say(f"  ({time.monotonic() - began:.0f} s)")
    say(f"\ncampus-load, {args.rooms} rooms, steps of {args.seconds:g} s, hold {args.hold:g} s")
    say(table(results))
    write_json(
        args.json,
        {
            "engines": {r.name: r.figures() for r in results if r.name in ENGINES},
            "variants": {r.name: r.figures() for r in results if r.name in VARIANTS},
            "rooms": args.rooms,
            "seconds": args.seconds,
            "hold": args.hold,
            "notes": {r.name: r.note for r in results if r.note},
            "command": "python -m bench.campus_load " + " ".join(sys.argv[1:]),
            "repo": str(REPO),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
