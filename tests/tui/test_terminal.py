"""The real `campusctl tui` in a real terminal (tmux): it starts, draws the campus from a running
controller, switches views on keys, and quits on `q`; its district view too."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.controlplane.harness import running_campus
from tests.support.aio import run_async
from tests.support.mosquitto import Broker
from tests.tui.fixed_district import publish_district

pytestmark = pytest.mark.tui


def campusctl() -> list[str]:
    """The installed console script beside this Python (the module as a fallback)."""
    script = Path(sys.executable).with_name("campusctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "controller.cli"]


class Tmux:
    """One tmux server of the test's own (its own socket), one session."""

    def __init__(self) -> None:
        self.socket = f"campusctl-test-{uuid.uuid4().hex[:8]}"
        # COLUMNS/LINES (set under pytest) would override the pane's real size in the app.
        self.env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}

    async def run(self, *args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            "tmux", "-L", self.socket, *args, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await process.communicate()
        return process.returncode or 0, out.decode(errors="replace")

    async def screen(self) -> str:
        _, text = await self.run("capture-pane", "-p", "-t", "tui")
        return text

    async def until(self, condition: Callable[[str], bool], what: str) -> str:
        end = time.monotonic() + 15
        text = ""
        while time.monotonic() < end:
            text = await self.screen()
            if condition(text):
                return text
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; the terminal showed:\n{text}")

    async def keys(self, *keys: str) -> None:
        await self.run("send-keys", "-t", "tui", *keys)


@asynccontextmanager
async def terminal(command: list[str]) -> AsyncIterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed: apt-get install tmux (.ci/setup does)")
    tmux = Tmux()
    code, out = await tmux.run(
        "new-session", "-d", "-x", "100", "-y", "30", "-s", "tui", shlex.join(command)
    )
    assert code == 0, out
    try:
        yield tmux
    finally:
        await tmux.run("kill-server")


@run_async
async def test_campusctl_tui_in_tmux(broker: Broker, tmp_path: Path) -> None:
    async with running_campus(broker, tmp_path) as campus:
        command = [
            *campusctl(), "tui", "--broker", campus.url, "--site", campus.site,
            "--user", "tmux-tester", "--no-discovery",
        ]  # fmt: skip
        async with terminal(command) as tmux:
            screen = await tmux.until(
                lambda text: (
                    "science.lab1" in text and "online" in text and "Nordby School" in text
                ),
                "the overview with the site's name",
            )
            assert "Nordby School" in screen
            assert "CO2" in screen
            assert "q Quit" in screen
            await tmux.keys("2")
            screen = await tmux.until(lambda text: "not acknowledged" in text, "the alarms")
            assert "CO2 " in screen
            await tmux.keys("3")
            await tmux.until(lambda text: "ventilate-in-proportion" in text, "the rules")
            await tmux.keys("q")
            end = time.monotonic() + 10
            while (await tmux.run("has-session", "-t", "tui"))[0] == 0:
                assert time.monotonic() < end, "campusctl tui did not quit on q"
                await asyncio.sleep(0.1)


@run_async
async def test_campusctl_tui_district_in_tmux(fresh_broker: Broker) -> None:
    """The district view: every school on the broker, one opened with enter, back on 0."""
    publish_district(fresh_broker)
    command = [
        *campusctl(), "tui", "--broker", fresh_broker.url, "--district",
        "--user", "tmux-tester", "--no-discovery",
    ]  # fmt: skip
    async with terminal(command) as tmux:
        screen = await tmux.until(
            lambda text: "South School" in text and "North School" in text and "DOWN" in text,
            "the schools with their link state",
        )
        assert "need attention" in screen
        assert "not acknowledged" in screen
        await tmux.keys("Down")  # the second school, worst first: the fixed site
        await tmux.until(lambda text: "(snapshot): link up" in text, "it highlighted")
        await tmux.keys("Enter")
        await tmux.until(lambda text: "science.lab1" in text, "the school's rooms")
        await tmux.keys("0")
        await tmux.until(lambda text: "North School" in text, "the district again")
        await tmux.keys("q")
        end = time.monotonic() + 10
        while (await tmux.run("has-session", "-t", "tui"))[0] == 0:
            assert time.monotonic() < end, "campusctl tui did not quit on q"
            await asyncio.sleep(0.1)
