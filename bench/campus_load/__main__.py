"""campus-load: how many readings a second each engine turns into exactly the right commands,
measured as an outsider measures it (bench/README.md, "Campus load against peers").

    .venv/bin/python -m bench.campus_load [--rooms R] [--rates 1000,5000,10000,20000]
        [--seconds S] [--hold H] [--qos 0,1] [--runs N] [--publishers P] [--json FILE]
        [--engines ceiling,script,nodered,campusctl,campusctl-history] [--cpu-limit SHARE]

Readings come from P publisher processes through paho's public API at QoS 0, open loop at a
fixed rate; a checker compares every command with the oracle's, per actuator, in order. Per
run, command QoS and engine (the ceiling sends no commands, so it runs once per run): the fixed
rates on one fresh engine (the lowest for H seconds, the others S), a search by steps ×1.25 on
another, and a hold of H seconds at the best rate on a fresh engine (20 % lower until one
passes). CPU µs per reading comes from the engine's /proc/<pid>/stat, RSS is its peak (VmHWM).
The tables give the medians of the N runs and the ratios the targets need. With --cpu-limit,
each engine process is held to that share of one core (cpulimit.py; root), so that held rates
compare below the generator's ceiling.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.campus_load import nodered
from bench.campus_load.cpulimit import CpuLimitError, hierarchy
from bench.campus_load.engines import ENGINES, VARIANTS, has_commands
from bench.campus_load.measure import EngineRun, Plan, measure
from bench.campus_load.report import (
    details,
    run_figures,
    summaries,
    table,
    targets,
    targets_text,
)
from bench.common import REPO, write_json

RATES = "1000,5000,10000,20000"
MAX_RATE = 200_000.0


def say(text: str) -> None:
    print(text, flush=True)


def parse_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.campus_load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rooms",
        type=int,
        default=200,
        help="simulated rooms (default 200, as the issue's harness)",
    )
    parser.add_argument("--rates", default=RATES, help=f"fixed rates, readings/s ({RATES})")
    parser.add_argument("--seconds", type=float, default=10.0, help="step length (default 10)")
    parser.add_argument(
        "--hold", type=float, default=30.0, help="hold and lowest-rate length (default 30)"
    )
    parser.add_argument("--qos", default="0,1", help="command QoS of the comparisons (0,1)")
    parser.add_argument("--runs", type=int, default=3, help="runs, for medians (default 3)")
    parser.add_argument("--publishers", type=int, default=3, help="publisher processes (default 3)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset")
    parser.add_argument(
        "--max-rate", type=float, default=MAX_RATE, help="stop the search above this rate"
    )
    parser.add_argument(
        "--cpu-limit",
        type=float,
        default=None,
        metavar="SHARE",
        help="hold each engine to this share of one core, e.g. 0.5 (a control group; root)",
    )
    parser.add_argument("--json", default=None, help="write the figures to this file")
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="skip Node-RED when it is not in the cache instead of installing it with npm",
    )
    args = parser.parse_args(argv)
    names = parse_list(args.engines)
    unknown = sorted(set(names) - set(ENGINES) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown engines {unknown}; choose from {', '.join(ENGINES + VARIANTS)}")
    qoses = [int(q) for q in parse_list(args.qos)]
    if not qoses or set(qoses) - {0, 1}:
        parser.error("--qos takes 0, 1 or 0,1")
    rates = tuple(sorted(float(r) for r in parse_list(args.rates)))
    if not rates:
        parser.error("--rates needs at least one rate")
    if "nodered" in names and not nodered.installed():
        if args.no_install:
            say(f"skipping nodered: not installed in {nodered.FOLDER} (run without --no-install)")
            names.remove("nodered")
        else:
            nodered.install()
    if args.cpu_limit is not None:
        try:
            hierarchy()
        except CpuLimitError as exc:
            parser.error(f"--cpu-limit: {exc}")
    plan = Plan(
        args.rooms,
        rates,
        args.seconds,
        args.hold,
        args.max_rate,
        args.publishers,
        args.cpu_limit,
    )
    runs: list[EngineRun] = []
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="campus-load-") as tmp:
        for run in range(1, args.runs + 1):
            for name in names:
                for qos in qoses if has_commands(name) else [None]:
                    runs.append(measure(name, qos, run=run, plan=plan, workroot=Path(tmp), say=say))
    minutes = (time.monotonic() - began) / 60
    figures: dict[str, object] = {}
    for qos in qoses:
        groups = summaries(runs, qos, args.cpu_limit)
        found = targets(groups, rates)
        say(
            f"\ncampus-load, commands at QoS {qos}: medians of {args.runs} run(s), "
            f"{args.rooms} rooms, steps of {args.seconds:g} s, holds of {args.hold:g} s"
            + ("" if args.cpu_limit is None else f", engines held to {args.cpu_limit:g} of a core")
        )
        say(table(groups, rates))
        say("")
        say(details(groups, rates))
        if found:
            say(targets_text(found))
        figures[f"qos{qos}"] = {
            "medians": {name: g.medians(rates) for name, g in groups.items()},
            "targets": found,
        }
    say(f"\n({minutes:.0f} minutes)")
    write_json(
        args.json,
        {
            **figures,
            "runs": [run_figures(r) for r in runs],
            "plan": {**vars(plan), "qos": qoses, "runs": args.runs, "minutes": round(minutes)},
            "command": "python -m bench.campus_load " + " ".join(sys.argv[1:]),
            "repo": str(REPO),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
