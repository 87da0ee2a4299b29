"""An engine held to a share of one core (`--cpu-limit`), as on a smaller controller box.

On this benchmark's 2-core machine the generator's publishers and the broker share the cores
with the engine, and the fastest engines hold the generator's own ceiling: their held rates
then say nothing about which of them could take more. Held to, say, half a core each, every
engine saturates below that ceiling, and the held rates compare capacities under the same CPU
budget (bench/README.md, "Held to half a core").

A control group of the kernel's CPU controller, with the quota over a short period (10 ms) so
that throttling delays a reading by milliseconds, not by the default 100 ms period's tens:
cgroup v1 (``cpu.cfs_quota_us``) where the ``cpu`` hierarchy is mounted apart, otherwise cgroup
v2 (``cpu.max``). It needs root (the CI machine and this one run as root); anything missing
raises `CpuLimitError` saying what and where.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 10_000
"""The quota's period: short, so a throttled engine waits milliseconds at a time."""


class CpuLimitError(RuntimeError):
    """The CPU limit cannot be set up on this machine (why, and which file)."""


def hierarchy(root: Path = ROOT) -> tuple[Path, int]:
    """Where to make the group and which cgroup version that is."""
    if (root / "cpu" / "cpu.cfs_quota_us").exists():
        return root / "cpu", 1
    controllers = root / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        return root, 2
    raise CpuLimitError(
        f"no CPU controller under {root}: neither {root / 'cpu' / 'cpu.cfs_quota_us'} "
        f"(cgroup v1) nor 'cpu' in {controllers} (cgroup v2)"
    )


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise CpuLimitError(f"cannot write {text!r} to {path}: {exc} (root needed)") from exc


@contextlib.contextmanager
def cpu_limited(pid: int, share: float, root: Path = ROOT) -> Iterator[Path]:
    """Hold process `pid` (and the processes it starts from now on) to `share` of one core
    until the block ends; yields the group's directory. The group is removed at the end, once
    the process has left it (exited, or moved back to the parent group here)."""
    if not 0.01 <= share <= 64:
        raise CpuLimitError(f"a CPU limit of {share} cores: give 0.01 to 64")
    parent, version = hierarchy(root)
    group = parent / f"campus-load-{pid}"
    quota = max(1000, round(share * PERIOD_US))
    try:
        group.mkdir()
    except OSError as exc:
        raise CpuLimitError(f"cannot make the control group {group}: {exc} (root needed)") from exc
    try:
        if version == 1:
            _write(group / "cpu.cfs_period_us", str(PERIOD_US))
            _write(group / "cpu.cfs_quota_us", str(quota))
        else:
            _write(parent / "cgroup.subtree_control", "+cpu")
            _write(group / "cpu.max", f"{quota} {PERIOD_US}")
        _write(group / "cgroup.procs", str(pid))
        yield group
    finally:
        _empty(group, parent)


def _empty(group: Path, parent: Path) -> None:
    """Move what is still in `group` to `parent`, then remove it."""
    with contextlib.suppress(OSError):
        for task in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                (parent / "cgroup.procs").write_text(task)
    with contextlib.suppress(OSError):
        os.rmdir(group)
