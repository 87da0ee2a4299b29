"""Safe reload of the rule files while the controller runs (SIGHUP, a file watch, an API call).
The same reload reads the staff file again (`StaffReload`), with the same rule: a file with
errors changes nothing, and the controller keeps the roles it had.

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

from campus.problems import ConfigError
from controller.extension import end_task
from controller.roles import Staff, load_staff_file
from rules.loader import SUFFIXES, load_rules

if TYPE_CHECKING:
    from campus.types import Command
    from controller.runtime import Controller

log = logging.getLogger("campusctl.reload")


@dataclass(frozen=True)
class ReloadReport:
    """What a reload changed, and what was wrong with the files (kept at their last good
    version)."""

    diff: list[str] = field(default_factory=list)
    """One line per change: ``+ rule co2-alarm (12 rooms)``, ``~ rule night-setback: when
    changed``, ``- rule old-rule (3 rooms)``, then the staff file's (``~ staff alice: an author
    of north (was an operator of north)``, controller.roles.Staff.replace); empty when nothing
    changed."""
    problems: list[str] = field(default_factory=list)
    """``FILE:LINE:COL: message`` for every error and warning found, then one line per file
    whose last good version was kept."""
    ok: bool = True
    """False when some file has errors (its last good version, if any, was kept)."""

    def lines(self) -> list[str]:
        """The report as printed: the diff (or "no change"), then the problems."""
        return [*(self.diff or ["no change"]), *self.problems]


def reload_rules(controller: Controller, now: float) -> ReloadReport:
    """Re-read the controller's rule files and swap the result into its engine; then read the
    staff file again, if the controller has one (`StaffReload`)."""
    old = controller.rules
    failed_before = old.failed_files()
    good = {f: text for f, text in old.texts.items() if f not in failed_before}
    fresh = load_rules(old.sources, controller.campus)
    keep = {f: good[f] for f in sorted(fresh.failed_files()) if f in good}
    final = load_rules(old.sources, controller.campus, texts=keep) if keep else fresh
    problems = [str(p) for p in fresh.problems]
    problems += [f"{f}: has errors; its last good version stays in force" for f in keep]
    diff: list[str] = []

    def replace() -> list[Command]:
        lines, commands = controller.engine.replace_rules(final.rules, now)
        controller.rules = final
        diff.extend(lines)
        return commands

    controller.decide(replace)
    staff = [
        extension.reread(controller.campus.site.id)
        for extension in controller.extensions
        if isinstance(extension, StaffReload)
    ]
    report = ReloadReport(
        [*diff, *(line for part in staff for line in part.diff)],
        [*problems, *(line for part in staff for line in part.problems)],
        ok=not fresh.errors and all(part.ok for part in staff),
    )
    for line in report.diff or ["no change"]:
        log.info("reload: %s", line)
    for line in problems:
        log.info("reload: %s", line)
    for part in staff:  # a broken staff file is an error: the roles are not what it says
        for line in part.problems:
            log.log(logging.WARNING if part.ok else logging.ERROR, "reload: %s", line)
    return report


class StaffReload:
    """An extension that reads the staff file again on each reload (`reload_rules`: SIGHUP, the
    file watch, the reload request), so a change of roles needs no restart.

    The new roles replace the old in the one `Staff` object the control plane checks requests
    against (`Staff.replace`). A file that now has errors changes nothing: the controller keeps
    the roles it had and goes on, and the errors go to the log (as errors: until the file is
    fixed, the roles are not what the file says) and to the reload's report, which the reload
    request answers with. The watch looks at the file too (`RuleWatcher`)."""

    name = "staff-reload"

    def __init__(self, staff: Staff) -> None:
        if staff.path is None:
            raise ValueError("StaffReload needs a staff read from a file")
        self.staff = staff
        self.path: Path = staff.path

    async def start(self, controller: Controller) -> None:
        pass

    async def stop(self) -> None:
        pass

    def reread(self, site: str) -> ReloadReport:
        """Read the file again and take its roles, or keep the old ones if it has errors
        (`reload_rules` logs the report)."""
        try:
            fresh = load_staff_file(self.path)
        except ConfigError as exc:
            problems = [str(p) for p in exc.problems]
            problems.append(f"{self.path}: has errors; the roles read before stay in force")
            return ReloadReport([], problems, ok=False)
        diff = self.staff.replace(fresh)
        problems = []
        if not self.staff.anyone_may_change(site):
            problems.append(
                f"{self.path}: warning: names no operator or author for site {site}: every "
                "request that changes something will be refused"
            )
        return ReloadReport(diff, problems)


def watched(controller: Controller) -> list[Path]:
    """What the file watch looks at: the rule files and folders, and the staff file."""
    staff = [e.path for e in controller.extensions if isinstance(e, StaffReload)]
    return [*controller.rules.sources, *staff]


def signature(sources: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime_ns, size) of every file the sources name (a folder: its rules files);
    missing files drop out."""
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
    """An extension that reloads the rules (and the staff file) when their files change."""

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
        applied = signature(watched(controller))
        seen = applied
        while True:
            await clock.sleep_until(clock.now() + self.interval * clock.speed)
            current = signature(watched(controller))
            if current != seen:
                seen = current
                continue
            if current != applied:
                applied = current
                try:
                    controller.reload_rules("file-watch")
                except Exception:
                    log.exception("reload after a file change failed")
