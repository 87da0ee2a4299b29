"""Safe reload of the rule files while the controller runs (SIGHUP, a file watch, an API call).

Everything is validated before anything changes. A file that now has errors is not half
applied: its last good version stays in force (the rules of the other files still update), and
the report says so next to the errors. Rule instances whose rule did not change keep their
state and running hold timers (rules.roster.Roster.swap), which is what Home Assistant,
openHAB and Node-RED lose on reload. The diff is short and goes to the log and the caller.

The watch polls modification times on the injected clock: no inotify dependency, and an editor
that writes a file in two steps is read once the file stopped changing for one poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from controller.extension import end_task
from rules.loader import SUFFIXES, load_rules

if TYPE_CHECKING:
    from controller.runtime import Controller

log = logging.getLogger("campusctl.reload")


@dataclass(frozen=True)
class ReloadReport:
    """What a reload changed, and what was wrong with the files (kept at their last good
    version)."""

    diff: list[str] = field(default_factory=list)
    """One line per change: ``+ rule co2-alarm (12 rooms)``, ``~ rule night-setback: when
    changed``, ``- rule old-rule (3 rooms)``; empty when nothing changed."""
    problems: list[str] = field(default_factory=list)
    """``FILE:LINE:COL: message`` for every error and warning found, then one line per file
    whose last good version was kept."""
    ok: bool = True
    """False when some file has errors (its last good version, if any, was kept)."""

    def lines(self) -> list[str]:
        """The report as printed: the diff (or "no change"), then the problems."""
        return [*(self.diff or ["no change"]), *self.problems]


def reload_rules(controller: Controller, now: float) -> ReloadReport:
    """Re-read the controller's rule files and swap the result into its engine."""
    old = controller.rules
    failed_before = old.failed_files()
    good = {f: text for f, text in old.texts.items() if f not in failed_before}
    fresh = load_rules(old.sources, controller.campus)
    keep = {f: good[f] for f in sorted(fresh.failed_files()) if f in good}
    final = load_rules(old.sources, controller.campus, texts=keep) if keep else fresh
    problems = [str(p) for p in fresh.problems]
    problems += [f"{f}: has errors; its last good version stays in force" for f in keep]
    diff, commands = controller.engine.replace_rules(final.rules, now)
    controller.rules = final
    controller.send(commands)
    report = ReloadReport(diff, problems, ok=not fresh.errors)
    for line in report.lines():
        log.info("reload: %s", line)
    return report


def signature(sources: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime_ns, size) of every rules file the sources name; missing files drop out."""
    found: list[tuple[str, int, int]] = []
    for source in sources:
        files = (
            sorted(p for p in source.iterdir() if p.suffix in SUFFIXES)
            if source.is_dir()
            else [source]
        )
        for file in files:
            with contextlib.suppress(OSError):
                stat = file.stat()
                found.append((str(file), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


class RuleWatcher:
    """An extension that reloads the rules when their files change."""

    name = "rule-watch"

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        """Wall-clock seconds between two looks at the files."""
        self._task: asyncio.Task[None] | None = None

    async def start(self, controller: Controller) -> None:
        self._task = asyncio.create_task(self._watch(controller), name="rule-watch")

    async def stop(self) -> None:
        await end_task(self._task)

    async def _watch(self, controller: Controller) -> None:
        clock = controller.clock
        applied = signature(controller.rules.sources)
        seen = applied
        while True:
            await clock.sleep_until(clock.now() + self.interval * clock.speed)
            current = signature(controller.rules.sources)
            if current != seen:
                seen = current
                continue
            if current != applied:
                applied = current
                try:
                    controller.reload_rules("file-watch")
                except Exception:
                    log.exception("reload after a file change failed")
