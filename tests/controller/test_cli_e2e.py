"""`campusctl rules explain` against a running controller over the control plane (and offline
from a state file), and SIGHUP reloading `campusctl run`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from campus.clock import ScaledClock
from controller.cli import main
from tests.conftest import EXAMPLES, ROOT
from tests.controller.harness import LIGHT_RULES, SENSOR, START, Devices, running
from tests.drivers.helpers import Peer
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for, wait_for_blocking

pytestmark = pytest.mark.mqtt


@run_async
async def test_explain_asks_the_running_controller(
    fresh_broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "r.yaml").write_text(LIGHT_RULES)
    state = tmp_path / "state.sqlite"
    devices = Devices(fresh_broker)
    try:
        async with running(fresh_broker, folder, state, ScaledClock(START, 60.0)) as controller:
            devices.report(SENSOR, occupancy=True, illuminance=100, co2=500)
            await wait_for(  # sent, not only decided: the settle may still hold the command
                lambda: controller.rooms["main.r101"].commanded.get("lights") is True, "on sent"
            )
            args = ["rules", "explain", "main.r101.lights", "--broker", fresh_broker.url]
            code = await asyncio.to_thread(main, args)
            out = capsys.readouterr().out
            assert code == 0
            assert out.splitlines()[0].startswith("main.r101.lights = on  (last sent on at ")
            assert re.search(r"^▶ 10 comfort +lights +on$", out, re.MULTILINE), out
            code = await asyncio.to_thread(
                main, ["rules", "explain", "lights@main.r101", "--broker", fresh_broker.url]
            )
            out = capsys.readouterr().out
            assert out.startswith("lights@main.r101  active since "), out
            code = await asyncio.to_thread(
                main, ["rules", "explain", "nope", "--broker", fresh_broker.url]
            )
            assert code == 2
            assert "the controller refused: nothing called 'nope'" in capsys.readouterr().err
    finally:
        devices.close()
    # offline, from the state file the controller left behind
    code = main(
        ["rules", "explain", "lights@main.r101", "--state", str(state), "--rules", str(folder)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("lights@main.r101  active since "), out


def test_explain_without_a_controller_says_so(
    broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["rules", "explain", "main.r101.lights", "--broker", broker.url, "--timeout", "0.5"]
    code = main([*args, "--site", "nobody-runs-this"])
    assert code == 2
    assert "did not answer within 0.5 s" in capsys.readouterr().err


GONE_RULES = """\
rules:
  - id: gone
    rooms: id == "main.r101"
    when: co2 > 5000
    set:
      ventilation: 100
"""


def test_sighup_reloads_a_running_controller(fresh_broker: Broker, tmp_path: Path) -> None:
    """SIGHUP reloads the rules and the staff file; the retained rules summary follows at once
    (a removed rule was listed until something else changed: the control plane heard only of
    reloads by request)."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "r.yaml").write_text(LIGHT_RULES)
    (folder / "gone.yaml").write_text(GONE_RULES)
    staff = tmp_path / "staff.yaml"
    staff.write_text("alice: {role: viewer, sites: [demo]}\nbob: {role: author, sites: all}\n")
    summary = Peer(fresh_broker.host, fresh_broker.port)
    summary.subscribe("campusctl/demo/rules")

    def listed() -> list[str]:
        payloads = summary.payloads("campusctl/demo/rules")
        return [r["id"] for r in json.loads(payloads[-1])["rules"]] if payloads else []

    command = [
        sys.executable,
        "-m",
        "controller.cli",
        "run",
        "--config",
        str(EXAMPLES / "campus.yaml"),
        "--rules",
        str(folder),
        "--broker",
        fresh_broker.url,
        "--state",
        str(tmp_path / "s.sqlite"),
        "--watch-rules",
        "0",
        "--staff-file",
        str(staff),
        "--speed",
        "60",
        "--start",
        "2026-11-23 08:20",
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")))  # type: ignore[union-attr]
    reader.start()

    def seen(text: str) -> bool:
        return any(text in line for line in list(lines))

    def wait(text: str) -> None:
        end = time.monotonic() + 20
        while not seen(text):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < end, f"no {text!r} in:\n" + "".join(lines)
            time.sleep(0.05)

    try:
        wait("controlling 10 rooms with 2 rules")
        wait_for_blocking(lambda: sorted(listed()) == ["gone", "lights"], "the rules summary", 20)
        (folder / "r.yaml").write_text(LIGHT_RULES.replace("300", "200"))
        (folder / "gone.yaml").unlink()
        staff.write_text("alice: {role: author, sites: [demo]}\nbob: {role: author, sites: all}\n")
        process.send_signal(signal.SIGHUP)
        wait("reload: ~ rule lights: when changed")
        wait("reload: ~ staff alice: an author of demo (was a viewer of demo)")
        wait("audit: SIGHUP reload-rules - rule gone (1 room); ~ rule lights: when changed")
        wait_for_blocking(lambda: listed() == ["lights"], "the summary without 'gone'", 1.0)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        reader.join(5)
        summary.close()
