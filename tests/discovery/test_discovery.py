"""mDNS discovery on loopback only: advertise in one process, find it from another.

Every Zeroconf here is opened on 127.0.0.1 (the host's lo has no MULTICAST flag, yet two
processes find each other on it); no test touches another interface.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from zeroconf import InterfaceChoice

from campus.clock import VirtualClock
from campus.config import load_campus
from campus.discovery import (
    CONTROLLER_TYPE,
    BrokerService,
    Browser,
    ControllerService,
    Found,
    controller_service,
    resolve_interfaces,
)
from campus.problems import CampusError
from controller import discovery as controller_discovery
from controller.cli import main
from controller.discovery import DiscoveryExtension
from controller.service import (
    ServiceOptions,
    add_service_arguments,
    build_controller,
    service_options,
)
from rules.loader import load_rules
from tests.support.aio import run_async
from tests.support.mosquitto import Broker

ROOT = Path(__file__).resolve().parents[2]
RUN = os.getpid()
"""Names and ports unique to this test run: other runs on the host share loopback's mDNS."""


@contextmanager
def advertiser(kind: str, name: str, where: str) -> Iterator[subprocess.Popen[str]]:
    """tests/discovery/advertiser_child.py in its own process, until the test is done."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.discovery.advertiser_child", kind, name, where],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield child
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


@asynccontextmanager
async def browsing() -> AsyncIterator[Browser]:
    async with Browser(resolve_interfaces([])) as browser:
        yield browser


async def until(browser: Browser, found: Callable[[], bool], within: float = 10.0) -> None:
    """Wait for `found()` to hold, woken by the browser's changes; fail after `within` s."""
    async with asyncio.timeout(within):
        while not found():
            await browser.changed.wait()
            browser.changed.clear()


@run_async
async def test_a_controller_advertised_by_another_process_is_found_and_its_goodbye_seen() -> None:
    site = f"north-{RUN}"
    async with browsing() as browser:
        with advertiser("controller", site, "mqtt://ops:secret@127.0.0.1:1999"):
            await until(browser, lambda: any(c.site == site for c in browser.controllers.values()))
            (found,) = [c for c in browser.controllers.values() if c.site == site]
            assert found.broker == "mqtt://127.0.0.1:1999"
            assert found.prefix == f"campusctl/{site}/"
            assert found.addresses == ("127.0.0.1",)
        await until(browser, lambda: all(c.site != site for c in browser.controllers.values()))


@run_async
async def test_brokers_that_advertise_mqtt_are_listed() -> None:
    name = f"test mosquitto {RUN}"
    async with browsing() as browser:
        with advertiser("broker", name, "18830"):
            await until(browser, lambda: any(b.name == name for b in browser.brokers.values()))
            (found,) = [b for b in browser.brokers.values() if b.name == name]
            assert found.port == 18830
            assert found.url == "mqtt://127.0.0.1:18830"


@pytest.mark.mqtt
@run_async
async def test_the_running_controller_is_found_by_campusctl_discover(
    broker: Broker, tmp_path: Path
) -> None:
    campus = load_campus(ROOT / "examples" / "campus.yaml")
    rules = load_rules([ROOT / "examples" / "rules"], campus)
    options = ServiceOptions(broker_url=broker.url, discovery=True, watch_rules=0)
    controller = build_controller(campus, rules, VirtualClock(1_800_000_000.0), options)
    (extension,) = [e for e in controller.extensions if isinstance(e, DiscoveryExtension)]
    task = asyncio.create_task(controller.run())
    try:
        async with asyncio.timeout(15):
            await extension.advertised.wait()
        discover = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "controller.cli",
            "discover",
            "--json",
            "--seconds",
            "3",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await discover.communicate()
        assert discover.returncode == 0
        ours = {"site": "demo", "broker": broker.url, "prefix": "campusctl/demo/"}
        controllers = json.loads(out)["controllers"]
        assert any(ours.items() <= c.items() for c in controllers), controllers
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_interfaces_default_to_loopback_and_all_must_be_asked_for() -> None:
    assert resolve_interfaces([]) == ["127.0.0.1"]
    assert resolve_interfaces(["lo"]) == ["127.0.0.1"]
    assert resolve_interfaces(["127.0.0.1"]) == ["127.0.0.1"]
    assert resolve_interfaces(["all"]) is InterfaceChoice.All
    with pytest.raises(CampusError, match="'wlan9' has no IPv4 address or does not exist"):
        resolve_interfaces(["wlan9"])


def test_the_advertisement_hides_credentials_and_names_a_reachable_broker() -> None:
    local = controller_service("demo", "mqtt://u:pw@127.0.0.1:1883", ["127.0.0.1"], "lab pc")
    assert local.type == CONTROLLER_TYPE
    assert local.server == "lab-pc.local."
    assert local.properties == {
        b"txtvers": b"1",
        b"site": b"demo",
        b"broker": b"mqtt://127.0.0.1:1883",
        b"prefix": b"campusctl/demo/",
    }
    lan = controller_service("demo", "mqtt://localhost:1883", ["192.0.2.10"], "lab")
    assert lan.properties[b"broker"] == b"mqtt://192.0.2.10:1883"
    remote = controller_service("demo", "mqtt://broker.campus:1883", ["192.0.2.10"], "lab")
    assert remote.properties[b"broker"] == b"mqtt://broker.campus:1883"


def test_the_service_options_turn_discovery_on_for_the_command_line() -> None:
    parser = argparse.ArgumentParser()
    add_service_arguments(parser, "broker")
    default = service_options(parser.parse_args([]))
    assert default.discovery is True
    assert default.discovery_interfaces == ()
    chosen = service_options(
        parser.parse_args(["--discovery-interface", "eth0", "--discovery-interface", "lo"])
    )
    assert chosen.discovery_interfaces == ("eth0", "lo")
    assert service_options(parser.parse_args(["--no-discovery"])).discovery is False
    assert ServiceOptions().discovery is False


@pytest.mark.parametrize("brokers", [0, 1])
def test_discover_prints_no_empty_heading(
    brokers: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What it finds is canned: other runs on this host advertise on loopback too."""
    controller = ControllerService(
        "north", "north", "mqtt://127.0.0.1:1883", "campusctl/north/", ("127.0.0.1",), "h.local."
    )
    broker = BrokerService("mosquitto", ("127.0.0.1",), 1883, "h.local.")
    found = Found([] if brokers else [controller], [broker] * brokers)

    async def canned(seconds: float, interfaces: object) -> Found:
        return found

    monkeypatch.setattr(controller_discovery, "browse", canned)
    assert main(["discover", "--seconds", "0"]) == 0
    expected = (
        "brokers:\n  mosquitto: mqtt://127.0.0.1:1883\n"
        if brokers
        else "controllers:\n  north: site north, broker mqtt://127.0.0.1:1883, "
        "topics campusctl/north/#, at 127.0.0.1\n"
    )
    assert capsys.readouterr().out == expected
