"""`campusctl demo --headless`: the README's demo, as a user runs it, on both brokers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from campus.config import load_campus
from controller.cli import EXAMPLES

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
