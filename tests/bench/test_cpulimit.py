"""bench/campus_load/cpulimit.py: an engine held to a share of one core by a real control group
of the kernel's CPU controller (root), and the benchmark's figures with `--cpu-limit`."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.campus_load.cpulimit import PERIOD_US, CpuLimitError, cpu_limited, hierarchy
from bench.campus_load.generator import CpuProbe
from tests.bench.test_campus_load import run


def _no_cgroup() -> str | None:
    try:
        hierarchy()
    except CpuLimitError as exc:
        return str(exc)
    return None


needs_cgroup = pytest.mark.skipif(_no_cgroup() is not None, reason=f"{_no_cgroup()}")


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


@needs_cgroup
def test_the_process_is_in_a_group_with_the_quota_until_the_end(
    child: subprocess.Popen[bytes],
) -> None:
    with cpu_limited(child.pid, 0.25) as group:
        assert str(child.pid) in (group / "cgroup.procs").read_text().split()
        parent, version = hierarchy()
        if version == 1:
            assert (group / "cpu.cfs_quota_us").read_text().strip() == str(PERIOD_US // 4)
            assert (group / "cpu.cfs_period_us").read_text().strip() == str(PERIOD_US)
        else:
            assert (group / "cpu.max").read_text().split() == [str(PERIOD_US // 4), str(PERIOD_US)]
        assert group.name in Path(f"/proc/{child.pid}/cgroup").read_text()
    assert not group.exists()  # the process, still running, moved back to the parent
    assert str(child.pid) in (parent / "cgroup.procs").read_text().split()


@needs_cgroup
def test_a_busy_process_gets_its_share_and_no_more() -> None:
    """A process that would take a whole core, held to a fifth of one: over half a second it
    gets no more than its quota (and a period's grain). Load from elsewhere can only lower it."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        probe = CpuProbe(busy.pid)
        with cpu_limited(busy.pid, 0.2):
            used, began = probe.seconds(), time.monotonic()
            time.sleep(0.5)
            share = (probe.seconds() - used) / (time.monotonic() - began)
    finally:
        busy.kill()
        busy.wait()
    assert share <= 0.35, share


def test_no_cpu_controller_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(CpuLimitError, match=str(tmp_path / "cgroup.controllers")):
        hierarchy(tmp_path)


def test_a_share_out_of_range_is_refused() -> None:
    with pytest.raises(CpuLimitError, match=r"give 0\.01 to 64"), cpu_limited(1, 0.0):
        pass


@needs_cgroup
@pytest.mark.mqtt
def test_the_benchmark_holds_each_engine_to_the_limit(tmp_path: Path) -> None:
    figures = run(tmp_path, "script", "--qos", "0", "--rates", "300", "--max-rate", "300",
                  "--cpu-limit", "0.5")  # fmt: skip
    assert figures["plan"]["cpu_limit"] == 0.5
    m = figures["qos0"]["medians"]["script"]
    assert m["rates"]["300"]["missing_extra_wrong"] == [[0, 0, 0]]
