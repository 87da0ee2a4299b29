"""`campusctl demo --headless`: the README's demo, as a user runs it, on both brokers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from campus.config import load_campus
from controller.cli import EXAMPLES
from controller.state import StateStore
from tests.conftest import ROOT

pytestmark = pytest.mark.mqtt


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_headless_demo_reports_readings_and_commands_for_every_room(broker: str) -> None:
    args = ["demo", "--headless", "--duration", "15", "--speed", "120"]
    if broker == "embedded":
        args.append("--embedded-broker")
    done = subprocess.run(
        [sys.executable, "-m", "controller.cli", "--log-level", "warning", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"broker: {'amqtt' if broker == 'embedded' else 'mosquitto'}" in done.stdout
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if "│" in line}
    for room in load_campus(EXAMPLES / "campus.yaml").rooms:
        cells = [c.strip() for c in rows[room.id].split("│")]
        readings, commands = int(cells[-3]), int(cells[-2])
        assert readings > 0, f"{room.id}: no readings"
        assert commands > 0, f"{room.id}: no commands"


def test_each_demo_has_its_own_state_and_log_unless_given_a_state_file(tmp_path: Path) -> None:
    """A rule disabled in one demo was still disabled in the next (the state was var/ of the
    working folder) with nothing in the log, and two demos at once wrote one log file."""
    rule = "corridor-lights-on-motion"
    kept = tmp_path / "kept.sqlite"
    for path in (kept, tmp_path / "var" / "campusctl-demo.sqlite"):  # the old default too
        store = StateStore(path, "demo")
        store.db.execute("INSERT INTO disabled_rules VALUES (?)", (rule,))
        store.close()
    (tmp_path / "tmp").mkdir()
    args = ["demo", "--headless", "--duration", "6", "--speed", "120"]
    demos = [
        subprocess.Popen(
            [sys.executable, "-m", "controller.cli", *args, *extra],
            cwd=tmp_path,
            env={**os.environ, "TMPDIR": str(tmp_path / "tmp"), "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for extra in ([], ["--state", str(kept)])
    ]
    (own, own_log), (given, given_log) = [files(demo) for demo in demos]
    assert own.parent.parent == tmp_path / "tmp"
    assert own.name == "state.sqlite"
    assert own_log.parent == own.parent
    assert given == kept
    assert given_log.parent.parent == tmp_path / "tmp"
    assert given_log != own_log
    assert ": restored 0 disabled rules\n" in own_log.read_text()
    assert f": restored 1 disabled rule: {rule}\n" in given_log.read_text()


def files(demo: subprocess.Popen[str]) -> tuple[Path, Path]:
    """The state file and the log a demo named at start."""
    out, err = demo.communicate(timeout=120)
    assert demo.returncode == 0, out + err
    state = re.search(r"^state: (\S+) \(", out, re.MULTILINE)
    log = re.search(r"^log: (\S+)$", out, re.MULTILINE)
    assert state is not None, out
    assert log is not None, out
    return Path(state[1]), Path(log[1])
