"""Control quality: does campusctl keep classrooms healthy while saving energy?

One simulated school week (examples/scenarios/school-week.yaml: 54 classrooms, labs, a library,
corridors) controlled three ways, in the same run, on the same simulated people and weather:

- ``baseline``: the schedule a school without sensors runs (bench/baseline.yaml): lights on and
  fans at full air 07:00-17:00 on school days;
- ``rules``: the shipped example rules (examples/rules/);
- ``naive``: the same rules without hold times and hysteresis (``for``, ``until``,
  ``until_for`` removed), what a first attempt looks like.

Each strategy runs the closed loop without a broker (`controller.offline.OfflineLoop`: simulated
Zigbee2MQTT devices, the MQTT codec, the rules engine) on virtual time. Measured over the
classrooms, once a simulated minute, from the simulator's truth (not the sensors): lighting and
fan energy, the share of occupied minutes with CO2 <= 1000 ppm and with >= 300 lx, the longest
spell over 1500 ppm, and how often lights and fans were switched on or off.

    .venv/bin/python -m bench.control_quality [--rooms N] [--days D] [--json FILE] [--plot PNG]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import queue
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.common import EXAMPLES, REPO, Progress, write_json
from campus.model import Campus
from campus.types import Command
from controller.offline import OfflineLoop
from rules.loader import load_rules
from simulators.scenario import Scenario, load_scenario
from simulators.world import World

SCENARIO = EXAMPLES / "scenarios" / "school-week.yaml"
BASELINE = REPO / "bench" / "baseline.yaml"
STRATEGIES = ("baseline", "rules", "naive")
HYSTERESIS_KEYS = ("for", "until", "until_for")
MEASURED_KIND = "classroom"
CO2_OK, CO2_BAD, LUX_OK = 1000.0, 1500.0, 300.0
TARGETS = {
    "lighting_saving_pct": 50.0,
    "fan_saving_pct": 55.0,
    "co2_ok_pct": 97.0,
    "longest_over_1500_min": 20.0,
    "lux_ok_pct": 98.0,
}


@dataclass
class Meter:
    """Per-minute comfort counts and switch counts over the measured rooms."""

    occupied_minutes: int = 0
    co2_ok_minutes: int = 0
    lux_ok_minutes: int = 0
    longest_over: int = 0
    light_switches: int = 0
    fan_switches: int = 0
    fan_changes: int = 0
    run: dict[str, int] = field(default_factory=dict)
    last: dict[str, float | bool] = field(default_factory=dict)
    curve: list[tuple[float, float, int]] = field(default_factory=list)
    """(time, CO2, occupants) of the plotted room on the plotted day."""

    def command(self, command: Command, measured: set[str]) -> None:
        room, _, name = command.actuator.rpartition(".")
        if room not in measured:
            return
        before = self.last.get(command.actuator)
        self.last[command.actuator] = command.value
        if before is None:
            return
        if name == "lights":
            self.light_switches += bool(before) != bool(command.value)
        elif name == "ventilation":
            self.fan_changes += 1
            self.fan_switches += (float(before) > 0) != (float(command.value) > 0)


@dataclass(frozen=True)
class Result:
    name: str
    lighting_kwh: float
    fan_kwh: float
    co2_ok_pct: float
    longest_over_1500_min: int
    lux_ok_pct: float
    switches: int
    light_switches: int
    fan_switches: int
    fan_changes: int
    occupied_minutes: int
    seconds: float
    curve: list[tuple[float, float, int]]

    def figures(self) -> dict[str, Any]:
        """The keys the issue fixes for the JSON."""
        return {
            "lighting_kwh": round(self.lighting_kwh, 3),
            "fan_kwh": round(self.fan_kwh, 3),
            "co2_ok_pct": round(self.co2_ok_pct, 2),
            "longest_over_1500_min": self.longest_over_1500_min,
            "lux_ok_pct": round(self.lux_ok_pct, 2),
            "switches": self.switches,
        }


def subset(campus: Campus, rooms: int | None) -> Campus:
    """Only the first `rooms` classrooms and every other room (None: the whole campus); the
    other rooms stay so that every example rule still covers a room."""
    if rooms is None:
        return campus
    left = rooms
    buildings = []
    for building in campus.buildings:
        kept = []
        for room in building.rooms:
            if room.kind != MEASURED_KIND:
                kept.append(room)
            elif left > 0:
                kept.append(room)
                left -= 1
        if kept:
            buildings.append(dataclasses.replace(building, rooms=tuple(kept)))
    return dataclasses.replace(campus, buildings=tuple(buildings))


def naive_rules(folder: Path, out: Path) -> list[Path]:
    """The rule files of `folder` with every hold time and release condition removed."""
    files = []
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        rules = [{k: v for k, v in r.items() if k not in HYSTERESIS_KEYS} for r in data["rules"]]
        target = out / path.name
        target.write_text(yaml.safe_dump({"rules": rules}, sort_keys=False), encoding="utf-8")
        files.append(target)
    return files


def rule_paths(strategy: str, rules: Path, scratch: Path) -> list[Path]:
    if strategy == "baseline":
        return [BASELINE]
    if strategy == "rules":
        return [rules]
    return naive_rules(rules, scratch)


def run_strategy(
    strategy: str,
    scenario: Scenario,
    campus: Campus,
    rules_folder: Path,
    *,
    days: float,
    report: Any = None,
) -> Result:
    """One strategy over `days` from the scenario's start; `report(strategy, fraction)`."""
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="campusctl-cq-") as scratch:
        ruleset = load_rules(rule_paths(strategy, rules_folder, Path(scratch)), campus)
    errors = [p for p in ruleset.problems if p.severity == "error"]
    if errors or not ruleset.rules:
        raise SystemExit(f"{strategy}: rules do not load:\n" + "\n".join(map(str, errors)))
    start = scenario.start if scenario.start is not None else time.time()
    end = start + days * 86400.0
    world = World(campus, scenario.seed, start, conditions=scenario.conditions)
    measured = {r.id for r in campus.rooms if r.kind == MEASURED_KIND}
    plotted = next(r.id for r in campus.rooms if r.kind == MEASURED_KIND)
    plot_day = start + min(2, max(0, int(days) - 1)) * 86400.0
    meter = Meter()
    loop = OfflineLoop(
        campus, ruleset, world, on_command=lambda c: meter.command(c, measured), step=10.0
    )
    next_minute = start + 60.0
    next_report = start

    def sample(now: float) -> None:
        nonlocal next_minute, next_report
        if now < next_minute:
            return
        next_minute += 60.0
        for room_id in measured:
            truth = world.truth(room_id)
            if truth.co2 > CO2_BAD:
                spell = meter.run.get(room_id, 0) + 1
                meter.run[room_id] = spell
                meter.longest_over = max(meter.longest_over, spell)
            else:
                meter.run[room_id] = 0
            if truth.occupants > 0:
                meter.occupied_minutes += 1
                meter.co2_ok_minutes += truth.co2 <= CO2_OK
                meter.lux_ok_minutes += truth.illuminance >= LUX_OK
            if room_id == plotted and plot_day <= now < plot_day + 86400.0:
                meter.curve.append((now, truth.co2, truth.occupants))
        if report is not None and now >= next_report:
            next_report += 3600.0
            report(strategy, (now - start) / (end - start))

    loop.run_until(end, every=sample)
    truths = [world.truth(r) for r in measured]
    occupied = max(1, meter.occupied_minutes)
    return Result(
        name=strategy,
        lighting_kwh=sum(t.lighting_wh for t in truths) / 1000.0,
        fan_kwh=sum(t.fan_wh for t in truths) / 1000.0,
        co2_ok_pct=100.0 * meter.co2_ok_minutes / occupied,
        longest_over_1500_min=meter.longest_over,
        lux_ok_pct=100.0 * meter.lux_ok_minutes / occupied,
        switches=meter.light_switches + meter.fan_switches,
        light_switches=meter.light_switches,
        fan_switches=meter.fan_switches,
        fan_changes=meter.fan_changes,
        occupied_minutes=meter.occupied_minutes,
        seconds=time.perf_counter() - began,
        curve=meter.curve,
    )


def _worker(args: tuple[str, str, int | None, str, float], progress: Any, results: Any) -> None:
    strategy, scenario_file, rooms, rules_folder, days = args
    scenario = load_scenario(Path(scenario_file))
    campus = subset(scenario.campus, rooms)
    result = run_strategy(
        strategy,
        scenario,
        campus,
        Path(rules_folder),
        days=days,
        report=lambda s, f: progress.put((s, f)),
    )
    results.put(result)


def run_all(
    scenario_file: Path, rooms: int | None, rules_folder: Path, days: float, jobs: int
) -> dict[str, Result]:
    """The three strategies, `jobs` at a time in worker processes (1: in this process)."""
    bar = Progress(len(STRATEGIES), "control quality")
    done: dict[str, float] = dict.fromkeys(STRATEGIES, 0.0)

    def show(strategy: str, fraction: float) -> None:
        done[strategy] = fraction
        bar.update(sum(done.values()), " ".join(f"{s} {done[s]:.0%}" for s in STRATEGIES))

    results: dict[str, Result] = {}
    if jobs <= 1:
        scenario = load_scenario(scenario_file)
        campus = subset(scenario.campus, rooms)
        for strategy in STRATEGIES:
            results[strategy] = run_strategy(
                strategy, scenario, campus, rules_folder, days=days, report=show
            )
            show(strategy, 1.0)
        bar.done()
        return results
    context = multiprocessing.get_context("fork")
    progress: Any = context.Queue()
    out: Any = context.Queue()
    pending = list(STRATEGIES)
    running: list[Any] = []
    while pending or running or len(results) < len(STRATEGIES):
        while pending and len(running) < jobs:
            job = (pending.pop(0), str(scenario_file), rooms, str(rules_folder), days)
            process = context.Process(target=_worker, args=(job, progress, out), daemon=True)
            process.start()
            running.append(process)
        try:
            strategy, fraction = progress.get(timeout=0.5)
            show(strategy, fraction)
        except queue.Empty:
            pass
        while True:
            try:
                result = out.get_nowait()
            except queue.Empty:
                break
            results[result.name] = result
            show(result.name, 1.0)
        for process in list(running):
            if not process.is_alive() and process.exitcode not in (0, None):
                raise SystemExit(f"a strategy worker failed (exit code {process.exitcode})")
            if not process.is_alive() and process.exitcode == 0:
                process.join()
                running.remove(process)
    bar.done()
    return results


def savings(results: dict[str, Result]) -> dict[str, float]:
    base, rules = results["baseline"], results["rules"]
    return {
        "lighting_saving_pct": 100.0 * (1.0 - rules.lighting_kwh / max(base.lighting_kwh, 1e-9)),
        "fan_saving_pct": 100.0 * (1.0 - rules.fan_kwh / max(base.fan_kwh, 1e-9)),
    }


def table(results: dict[str, Result]) -> str:
    header = (
        f"{'strategy':<9} {'light kWh':>9} {'fan kWh':>8} {'CO2<=1000':>9} {'>1500 max':>9} "
        f"{'>=300 lx':>8} {'switches':>8} {'(lights':>7} {'fans)':>5} {'fan moves':>9}"
    )
    lines = [header, "-" * len(header)]
    for r in results.values():
        lines.append(
            f"{r.name:<9} {r.lighting_kwh:9.1f} {r.fan_kwh:8.1f} {r.co2_ok_pct:8.2f}% "
            f"{r.longest_over_1500_min:6d} min {r.lux_ok_pct:7.2f}% {r.switches:8d} "
            f"{r.light_switches:7d} {r.fan_switches:5d} {r.fan_changes:9d}"
        )
    return "\n".join(lines)


def verdict(results: dict[str, Result]) -> list[str]:
    """Each target for the example rules, met or missed."""
    rules = results["rules"]
    saved = savings(results)
    checks = [
        ("lighting vs baseline", saved["lighting_saving_pct"], ">=", 50.0, "% less"),
        ("fans vs baseline", saved["fan_saving_pct"], ">=", 55.0, "% less"),
        ("CO2 <= 1000 ppm", rules.co2_ok_pct, ">=", 97.0, "% of occupied minutes"),
        ("longest spell > 1500 ppm", rules.longest_over_1500_min, "<=", 20.0, " min"),
        (">= 300 lx", rules.lux_ok_pct, ">=", 98.0, "% of occupied minutes"),
    ]
    lines = []
    for what, value, op, target, unit in checks:
        ok = value >= target if op == ">=" else value <= target
        lines.append(
            f"{'met   ' if ok else 'MISSED'} {what}: {value:.1f}{unit} (target {op} {target:g})"
        )
    return lines


def plot(results: dict[str, Result], path: Path, title: str) -> None:
    """Energy vs comfort per strategy, and one room's CO2 over one day."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"baseline": "tab:grey", "rules": "tab:green", "naive": "tab:orange"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for r in results.values():
        energy = r.lighting_kwh + r.fan_kwh
        left.scatter(energy, r.co2_ok_pct, s=90, marker="o", color=colours[r.name])
        left.scatter(energy, r.lux_ok_pct, s=90, marker="^", color=colours[r.name])
        left.annotate(
            f"{r.name}\n{r.lighting_kwh:.0f} kWh light + {r.fan_kwh:.0f} kWh fans",
            (energy, min(r.co2_ok_pct, r.lux_ok_pct)),
            textcoords="offset points",
            xytext=(8, 6),
            fontsize=8,
        )
    left.scatter([], [], marker="o", color="black", label="CO2 <= 1000 ppm")
    left.scatter([], [], marker="^", color="black", label=">= 300 lx")
    left.axhline(97, color="tab:blue", lw=0.6, ls="--")
    left.axhline(98, color="tab:olive", lw=0.6, ls=":")
    left.set_xlabel("energy of the classrooms, kWh (lighting + fans)")
    left.set_ylabel("% of occupied minutes in comfort")
    left.set_title("energy vs comfort per strategy")
    left.legend(loc="lower right", fontsize=8)
    for r in results.values():
        if r.curve:
            t0 = r.curve[0][0]
            hours = [(t - t0) / 3600.0 for t, _, _ in r.curve]
            right.plot(hours, [c for _, c, _ in r.curve], color=colours[r.name], label=r.name)
    any_curve = next((r.curve for r in results.values() if r.curve), [])
    if any_curve:
        t0 = any_curve[0][0]
        for t, _, people in any_curve:
            if people:
                right.axvspan((t - t0) / 3600.0, (t - t0 + 60) / 3600.0, color="0.92", lw=0)
    right.axhline(CO2_OK, color="tab:blue", lw=0.6, ls="--")
    right.axhline(CO2_BAD, color="tab:red", lw=0.6, ls="--")
    right.set_xlabel("hours since midnight (grey: occupied)")
    right.set_ylabel("CO2, ppm (truth)")
    right.set_title("one classroom, one day")
    right.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.control_quality", description=__doc__)
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    parser.add_argument("--rules", type=Path, default=EXAMPLES / "rules", help="rules folder")
    parser.add_argument("--rooms", type=int, default=None, help="only the first N classrooms")
    parser.add_argument("--days", type=float, default=5.0, help="simulated days (default 5)")
    parser.add_argument("--jobs", type=int, default=3, help="strategies run in parallel")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    parser.add_argument(
        "--plot", type=Path, default=Path("control_quality.png"), help="PNG to write"
    )
    args = parser.parse_args(argv)
    if args.days <= 0 or (args.rooms is not None and args.rooms < 1):
        parser.error("--days and --rooms must be positive")
    results = run_all(args.scenario, args.rooms, args.rules, args.days, args.jobs)
    results = {name: results[name] for name in STRATEGIES}
    campus = subset(load_scenario(args.scenario).campus, args.rooms)
    rooms = sum(r.kind == MEASURED_KIND for r in campus.rooms)
    print(f"\n{args.days:g} simulated days, {rooms} {MEASURED_KIND}s measured")
    print(table(results))
    saved = savings(results)
    print(
        f"\nexample rules vs baseline: lighting {saved['lighting_saving_pct']:.1f} % less, "
        f"fans {saved['fan_saving_pct']:.1f} % less"
    )
    print("\n".join(verdict(results)))
    took = ", ".join(f"{r.name} {r.seconds:.0f} s" for r in results.values())
    print(f"wall time per strategy: {took}")
    title = f"{args.scenario.name}: {args.days:g} days, {rooms} {MEASURED_KIND}s"
    plot(results, args.plot, title)
    print(f"plot: {args.plot}")
    write_json(
        args.json,
        {
            "strategies": {name: r.figures() for name, r in results.items()},
            "savings_vs_baseline": {k: round(v, 2) for k, v in saved.items()},
            "targets": TARGETS,
            "scenario": str(args.scenario),
            "classrooms": rooms,
            "days": args.days,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
