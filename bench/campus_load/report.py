"""The figures of several runs: medians per engine and command QoS, the tables, and the ratios the
targets of issue 16 are stated in.

Targets, campusctl (and campusctl-history) against the others at the same command QoS: CPU per
reading at 10k ≤ the script's; held rate ≥ the script's and ≥ 1.5 × Node-RED's; p99 at 1k ≤ the
script's; zero missing, extra and wrong commands at every fixed rate below saturation, i.e.
where the engine used less than SATURATED of one core (of its limit, with `--cpu-limit`) and
the rate was sent.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bench.campus_load.generator import StepResult
from bench.campus_load.measure import EngineRun

SATURATED = 0.8
"""A step where the engine used this share of one core or more counts as at saturation."""
TARGET_RATE = 10_000.0
"""The rate CPU per reading is compared at."""
PRODUCTS = ("campusctl", "campusctl-history", "campusctl-core")


def median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def step_figures(step: StepResult) -> dict[str, Any]:
    def r(x: float | None, digits: int) -> float | None:
        return None if x is None else round(x, digits)

    return {
        "rate": round(step.rate),
        "seconds": step.seconds,
        "sent": step.sent,
        "achieved_rate": round(step.achieved_rate),
        "expected": step.expected,
        "matched": step.matched,
        "missing": step.missing,
        "extra": step.extra,
        "wrong": step.wrong,
        "p50_ms": r(step.p50_ms, 3),
        "p99_ms": r(step.p99_ms, 3),
        "us_per_reading": r(step.us_per_reading, 2),
        "cpu_pct": r(100 * step.cpu_share, 1),
        "rss_mb": r(step.rss_mb, 1),
        "sustained": step.sustained,
        "note": step.note,
        "examples": step.examples,
    }


def run_figures(run: EngineRun) -> dict[str, Any]:
    return {
        "engine": run.engine,
        "qos": run.qos,
        "run": run.run,
        "held": round(run.held),
        "fixed": [step_figures(s) for s in run.fixed],
        "search": [step_figures(s) for s in run.search],
        "holds": [step_figures(s) for s in run.holds],
    }


@dataclass
class Summary:
    """One engine at one command QoS over its runs."""

    engine: str
    runs: list[EngineRun]
    saturated: float = SATURATED
    """The CPU share (of one core) from which a step counts as at saturation."""

    def figure(self, rate: float, get: Callable[[StepResult], float | None]) -> float | None:
        return median(get(s) for r in self.runs if (s := r.at(rate)) is not None)

    @property
    def held(self) -> float:
        return median(r.held for r in self.runs) or 0.0

    @property
    def rss_mb(self) -> float | None:
        return median(max((s.rss_mb for s in r.fixed), default=None) for r in self.runs)

    def errors(self, rate: float) -> list[tuple[int, int, int]]:
        """(missing, extra, wrong) of each run at `rate`."""
        return [(s.missing, s.extra, s.wrong) for r in self.runs if (s := r.at(rate))]

    def below_saturation(self) -> list[StepResult]:
        return [
            s
            for r in self.runs
            for s in r.fixed
            if s.cpu_share < self.saturated and s.achieved_rate >= 0.95 * s.rate
        ]

    def medians(self, rates: Iterable[float]) -> dict[str, Any]:
        return {
            "held": round(self.held),
            "held_runs": [round(r.held) for r in self.runs],
            "rss_mb": self.rss_mb,
            "rates": {
                str(round(rate)): {
                    "us_per_reading": self.figure(rate, lambda s: s.us_per_reading),
                    "cpu_pct": self.figure(rate, lambda s: 100 * s.cpu_share),
                    "p50_ms": self.figure(rate, lambda s: s.p50_ms),
                    "p99_ms": self.figure(rate, lambda s: s.p99_ms),
                    "rss_mb": self.figure(rate, lambda s: s.rss_mb),
                    "missing_extra_wrong": self.errors(rate),
                }
                for rate in rates
            },
        }


def summaries(
    runs: list[EngineRun], qos: int, cpu_limit: float | None = None
) -> dict[str, Summary]:
    """Every engine's runs at command QoS `qos` (the ceiling's, which sends no commands, too);
    `cpu_limit`: the share of one core each engine was held to, if any."""
    saturated = SATURATED * (cpu_limit or 1.0)
    out: dict[str, Summary] = {}
    for run in runs:
        if run.qos in (qos, None):
            out.setdefault(run.engine, Summary(run.engine, [], saturated)).runs.append(run)
    return out


def _f(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def table(groups: dict[str, Summary], rates: tuple[float, ...]) -> str:
    ceiling = groups["ceiling"].held if "ceiling" in groups else 0.0
    low = rates[0]
    header = (
        f"{'engine':<18} {'held msg/s':>10} {'of ceiling':>10} "
        + " ".join(f"{'µs@' + _k(r):>7}" for r in rates)
        + f" {'p50@' + _k(low):>8} {'p99@' + _k(low):>8} {'RSS MB':>7}"
        + "  errors (missing/extra/wrong)"
    )
    lines = [header, "-" * len(header)]
    for name, g in groups.items():
        share = f"{100 * g.held / ceiling:.0f} %" if ceiling else "n/a"
        errors = ", ".join(
            f"{_k(r)}: " + " ".join(f"{m}/{e}/{w}" for m, e, w in g.errors(r))
            for r in rates
            if any(sum(x) for x in g.errors(r))
        )
        lines.append(
            f"{name:<18} {g.held:10.0f} {share:>10} "
            + " ".join(f"{_f(g.figure(r, lambda s: s.us_per_reading), '.1f'):>7}" for r in rates)
            + f" {_f(g.figure(low, lambda s: s.p50_ms), '.2f'):>8}"
            f" {_f(g.figure(low, lambda s: s.p99_ms), '.2f'):>8}"
            f" {_f(g.rss_mb, '.0f'):>7}  {errors or 'none'}"
        )
    return "\n".join(lines)


def details(groups: dict[str, Summary], rates: tuple[float, ...]) -> str:
    """Per engine and fixed rate: medians of CPU, latency and RSS; each run's errors."""
    header = (
        f"{'engine':<18} {'rate':>6} {'µs/reading':>10} {'CPU %':>6} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'RSS MB':>7}  missing/extra/wrong per run"
    )
    lines = [header, "-" * len(header)]
    for name, g in groups.items():
        for rate in rates:
            errors = " ".join(f"{m}/{e}/{w}" for m, e, w in g.errors(rate))
            lines.append(
                f"{name:<18} {_k(rate):>6} "
                f"{_f(g.figure(rate, lambda s: s.us_per_reading), '.1f'):>10} "
                f"{_f(g.figure(rate, lambda s: 100 * s.cpu_share), '.0f'):>6} "
                f"{_f(g.figure(rate, lambda s: s.p50_ms), '.2f'):>8} "
                f"{_f(g.figure(rate, lambda s: s.p99_ms), '.2f'):>8} "
                f"{_f(g.figure(rate, lambda s: s.rss_mb), '.0f'):>7}  {errors}"
            )
    return "\n".join(lines)


def _k(rate: float) -> str:
    return f"{rate / 1000:g}k" if rate >= 1000 else f"{rate:g}"


def targets(groups: dict[str, Summary], rates: tuple[float, ...]) -> dict[str, dict[str, Any]]:
    """Each product's ratios against the script and Node-RED; a ratio is None when a figure is
    missing (an engine not measured, or a rate not in the plan)."""
    script, nodered = groups.get("script"), groups.get("nodered")
    at = TARGET_RATE if TARGET_RATE in rates else rates[-1]
    low = rates[0]
    out: dict[str, dict[str, Any]] = {}

    def us(x: Summary | None) -> float | None:
        return None if x is None else x.figure(at, lambda s: s.us_per_reading)

    def p99(x: Summary | None) -> float | None:
        return None if x is None else x.figure(low, lambda s: s.p99_ms)

    for name in PRODUCTS:
        g = groups.get(name)
        if g is None:
            continue
        clean = g.below_saturation()
        out[name] = {
            "cpu_vs_script_at": at,
            "cpu_vs_script": _ratio(us(g), us(script)),
            "held_vs_script": _ratio(g.held, script.held if script else None),
            "held_vs_1.5_nodered": _ratio(g.held, 1.5 * nodered.held if nodered else None),
            "p99_vs_script_at": low,
            "p99_vs_script": _ratio(p99(g), p99(script)),
            "saturated_at": g.saturated,
            "below_saturation_steps": len(clean),
            "below_saturation_errors": sum(s.missing + s.extra + s.wrong for s in clean),
        }
    return out


def targets_text(found: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, t in found.items():

        def line(label: str, ratio: float | None, want_le: bool) -> str:
            if ratio is None:
                return f"  {label:<42} n/a"
            met = ratio <= 1.0 if want_le else ratio >= 1.0
            goal = "≤ 1" if want_le else "≥ 1"
            return f"  {label:<42} {ratio:5.2f} (target {goal}) {'met' if met else 'NOT met'}"

        lines.append(f"{name}:")
        lines.append(
            line(f"CPU/reading at {_k(t['cpu_vs_script_at'])} vs script", t["cpu_vs_script"], True)
        )
        lines.append(line("held rate vs script", t["held_vs_script"], False))
        lines.append(line("held rate vs 1.5 × Node-RED", t["held_vs_1.5_nodered"], False))
        lines.append(
            line(f"p99 at {_k(t['p99_vs_script_at'])} vs script", t["p99_vs_script"], True)
        )
        errors, steps = t["below_saturation_errors"], t["below_saturation_steps"]
        verdict = "n/a" if not steps else "NOT met" if errors else "met"
        lines.append(
            f"  {'errors below saturation':<42} {errors} in {steps} steps "
            f"(CPU < {t['saturated_at']:.0%} of a core) {verdict}"
        )
    return "\n".join(lines)
