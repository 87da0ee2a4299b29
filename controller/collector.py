"""Garbage collection at quiet moments instead of in the middle of a reading.

CPython collects when the count of new container objects passes a threshold, that is inside
whatever allocates: on a controller, mostly the pass of a reading that causes a command (the
transition, the command, its events and payloads), so the pause delays that very command. Traced,
such passes were behind many of the slowest commands (bench/README.md, section "Measured on the
old workload": "Fourth round", and item 17).

Once the controller runs (after `gc.freeze`), `Collector` turns the automatic collector off and
runs the same passes itself at the controller's ticks (`Controller.every_tick`: right after a pass
of readings that sent no command, or once the hot path has been quiet for a moment): it looks at
the young generation's count and, when it is over its threshold, collects it, or an older
generation on CPython's own schedule (`gc.get_threshold`: after more than 10 young passes a
middle one, after more than 10 of those a full one). Nothing is collected later than before by
more than a tick and the hold-off while the controller works, or half a second while it idles
(`controller.runtime.IDLE_TICK`: few objects are made then); the passes move out of the
readings' way. On stop the automatic collector is on again.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused(*, freeze: bool = False) -> Iterator[None]:
    """The automatic collector off while a block builds what is to stay: the campus, its rules
    and the controller, objects with next to no garbage cycles among them (the few the rules'
    compiler leaves stay frozen). Built with the collector on, what was made first is walked
    again by every older-generation pass that making the rest sets off (bench/README.md,
    "Scale": "Start-up at the size of a district"). With `freeze`, what exists when the block
    ends is moved out of the collector's reach (`gc.freeze`, as `Controller.run` does), else the
    first pass after the block walks it all. On an exception nothing is frozen. The collector is
    on after the block if it was before."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        if freeze:
            gc.freeze()
    finally:
        if enabled:
            gc.enable()


def due_generation() -> int | None:
    """The generation CPython would collect now, or None (the young one is under its
    threshold). Like CPython, the oldest generation whose count is over its threshold; unlike
    it, without the heuristic that skips a full pass while few objects are new to the oldest
    generation (gc.freeze keeps the campus out of full passes instead)."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    if counts[0] <= thresholds[0]:
        return None
    for generation in (2, 1):
        if counts[generation] > thresholds[generation]:
            return generation
    return 0


class Collector:
    """Runs the collector's passes at quiet moments (see the module docstring): `step` at every
    tick of the controller (`Controller.every_tick`) while started."""

    def __init__(self) -> None:
        self.passes = [0, 0, 0]
        """Passes run per generation."""
        self._started = False

    def start(self) -> bool:
        """Turn the automatic collector off; False (and nothing to do) if it already was."""
        if not gc.isenabled():
            return False
        gc.disable()
        self._started = True
        return True

    def stop(self) -> None:
        """The automatic collector on again, if `start` turned it off."""
        if self._started:
            self._started = False
            gc.enable()

    def step(self) -> int | None:
        """Collect the generation that is due, if any; which one."""
        generation = due_generation()
        if generation is not None:
            gc.collect(generation)
            self.passes[generation] += 1
        return generation
