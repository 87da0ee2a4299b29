"""One engine at one command QoS, measured once: the fixed rates, the search, the hold.

1. Fixed rates (1k, 5k, 10k, 20k readings/s by default), in rising order on one fresh engine;
   the lowest lasts as long as a hold (its p99 rests on ~1,500 commands, not ~500), the others
   a step. After a failed step every room is vacated and primed again, so the next step
   starts from a state the oracle knows, whatever the engine got wrong (`Generator.prime`).
2. The search, on a fresh engine: from the highest rate that passed with every rate below it,
   steps ×GROWTH until one fails or reaches a fixed rate that failed.
3. The hold: the best rate for a hold's length on a fresh engine; if it fails, HOLD_BACKOFF
   lower, again on a fresh engine, down to the lowest fixed rate.

A step passes only with zero missing, extra and wrong commands, p99 under 1 s and the rate
actually sent (bench/campus_load/generator.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from bench.campus_load.engines import engine_session
from bench.campus_load.generator import CpuProbe, Generator, StepResult

GROWTH = 1.25
HOLD_BACKOFF = 0.8


@dataclass(frozen=True)
class Plan:
    rooms: int
    rates: tuple[float, ...]
    seconds: float
    hold: float
    max_rate: float
    publishers: int
    cpu_limit: float | None = None
    """The engine held to this share of one core (cpulimit.py); None: not held."""


@dataclass
class EngineRun:
    engine: str
    qos: int | None
    """The commands' QoS; None for the ceiling, which sends none."""
    run: int
    fixed: list[StepResult] = field(default_factory=list)
    search: list[StepResult] = field(default_factory=list)
    holds: list[StepResult] = field(default_factory=list)

    @property
    def held(self) -> float:
        """The rate a hold sustained (as set; it sent at least 95 % of it), 0 if none did."""
        return next((h.rate for h in self.holds if h.sustained), 0.0)

    def at(self, rate: float) -> StepResult | None:
        return next((s for s in self.fixed if s.rate == rate), None)


def measure(
    engine: str,
    qos: int | None,
    *,
    run: int,
    plan: Plan,
    workroot: Path,
    say: Callable[[str], None],
) -> EngineRun:
    result = EngineRun(engine, qos, run)
    sessions = (workroot / f"{engine}-qos{qos}-run{run}-{n}" for n in itertools.count())

    def session() -> AbstractContextManager[tuple[Generator, CpuProbe]]:
        return engine_session(
            engine,
            next(sessions),
            rooms=plan.rooms,
            qos=qos or 0,
            publishers=plan.publishers,
            cpu_limit=plan.cpu_limit,
        )

    say(f"\n== {engine}" + ("" if qos is None else f", commands at QoS {qos}") + f", run {run}")
    with session() as (gen, cpu):
        for rate in plan.rates:
            if result.fixed and not result.fixed[-1].sustained:
                gen.prime(reset=True)
            length = plan.hold if rate == plan.rates[0] else plan.seconds
            step = gen.step(rate, length, cpu)
            say(f"  fixed {step.line()}")
            for example in step.examples[:3]:
                say(f"        {example}")
            result.fixed.append(step)
    best = _best(result.fixed)
    failed = next((s.rate for s in result.fixed if not s.sustained), None)
    rate = best * GROWTH
    if best and rate <= plan.max_rate and (failed is None or rate < failed):
        with session() as (gen, cpu):
            while rate <= plan.max_rate and (failed is None or rate < failed):
                step = gen.step(rate, plan.seconds, cpu)
                say(f"  step  {step.line()}")
                result.search.append(step)
                if not step.sustained:
                    break
                best, rate = rate, rate * GROWTH
    rate = best
    while rate and rate >= min(plan.rates) * 0.999:
        with session() as (gen, cpu):
            held = gen.step(rate, plan.hold, cpu)
        say(f"  hold  {held.line()}")
        result.holds.append(held)
        if held.sustained:
            break
        rate *= HOLD_BACKOFF
    return result


def _best(steps: Sequence[StepResult]) -> float:
    """The highest rate that passed, with every rate below it."""
    best = 0.0
    for step in steps:
        if not step.sustained:
            break
        best = step.rate
    return best
