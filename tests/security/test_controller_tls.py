"""campusctl's own clients on the secured broker: the controller, the simulator and the TUI's
link connect over TLS with passwords from files, the controller refuses requests from users
off its staff list, and no password ever reaches a log line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from campus.brokerurl import parse_broker_url
from campus.clock import ScaledClock, parse_start
from campus.config import load_campus
from campus.model import Campus
from controller.cli import main
from controller.roles import Staff
from controller.runtime import Controller
from controller.service import ServiceOptions, build_controller
from drivers.mqtt import MqttDriver, MqttSettings
from rules.loader import load_rules
from simulators.mqtt import SimulatorRunner
from simulators.world import World
from tests.security.clients import Account
from tests.security.conftest import PASSWORDS
from tests.support.secure_mosquitto import SecureBroker, running_secure_mosquitto
from tests.support.waiting import wait_for

pytestmark = pytest.mark.mqtt

CAMPUS = """\
site: {id: sec, name: Secure School, timezone: Europe/Oslo}
kinds:
  classroom:
    points:
      occupancy:
        type: bool
        stale_after: 10m
        mqtt: &ms {topic: "zigbee2mqtt/{building}-{room}-multisensor"}
      co2: {unit: ppm, range: [250, 10000], stale_after: 10m, mqtt: *ms}
    actuators:
      lights: {type: switch, default: off, mqtt: {topic: "zigbee2mqtt/{building}-{room}-light"}}
buildings:
  - id: main
    rooms:
      - {id: r101..r102, kind: classroom, capacity: 28, area: 60}
"""
RULES = """\
rules:
  - id: lights-when-occupied
    when: occupancy
    set:
      lights: on
"""
START = parse_start("2026-11-23 08:20", "Europe/Oslo")


def load(folder: Path) -> tuple[Campus, Path]:
    (folder / "campus.yaml").write_text(CAMPUS)
    (folder / "rules.yaml").write_text(RULES)
    return load_campus(folder / "campus.yaml"), folder / "rules.yaml"


def secret(folder: Path, broker: SecureBroker, user: str) -> str:
    """The broker URL for `user`, its password in a file only its owner reads."""
    file = broker.password_file(user, folder)
    return f"{broker.url(user)}&password_file={file}"


@contextlib.asynccontextmanager
async def controlling(
    campus: Campus, rules: Path, clock: ScaledClock, options: ServiceOptions
) -> AsyncIterator[Controller]:
    controller = build_controller(campus, load_rules([rules], campus), clock, options)
    task = asyncio.create_task(controller.run())
    try:
        await asyncio.wait_for(controller.ready.wait(), 10)
        driver = controller.driver("mqtt")
        assert isinstance(driver, MqttDriver)
        await asyncio.wait_for(driver.wait_connected(), 10)
        yield controller
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def request(account: Account, name: str, body: dict[str, Any]) -> None:
    account.publish(f"campusctl/sec/request/{name}", json.dumps(body))


def answers(account: Account, name: str) -> list[dict[str, Any]]:
    return [json.loads(p) for p in account.received(f"campusctl/sec/response/{name}")]


def test_controller_and_simulator_over_tls_with_a_staff_list(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    campus, rules = load(tmp_path)
    asyncio.run(_secured_campus(secure_broker, tmp_path, campus, rules))
    logged = caplog.text
    assert "connected to mqtts://127.0.0.1" in logged
    for password in PASSWORDS.values():
        assert password not in logged, "a password reached the log"


async def _secured_campus(broker: SecureBroker, folder: Path, campus: Campus, rules: Path) -> None:
    clock = ScaledClock(START, 60.0)
    options = ServiceOptions(
        broker_url=secret(folder, broker, "controller"),
        settle=1.0,
        staff=Staff.authors({"alice"}),
        heartbeat=30.0,
    )
    world = World(campus, seed=1, start=START)
    simulator = SimulatorRunner(
        world, clock, parse_broker_url(secret(folder, broker, "zigbee2mqtt")), step=5.0
    )
    assert "pw" not in repr(simulator.broker)
    sim_task = asyncio.create_task(simulator.run())
    alice = Account(broker, "alice", PASSWORDS["alice"])
    bob = Account(broker, "bob", PASSWORDS["bob"])
    display = Account(broker, "display", PASSWORDS["display"])
    try:
        async with controlling(campus, rules, clock, options) as controller:
            await asyncio.wait_for(simulator.connected.wait(), 10)
            await wait_for(lambda: controller.readings > 0, "readings from the simulator")
            for account in (alice, bob, display):
                account.subscribe("campusctl/sec/#")
            await wait_for(
                lambda: display.received("campusctl/sec/heartbeat"), "a heartbeat over TLS"
            )

            override = {"actuator": "main.r101.lights", "value": "on", "duration": "30m"}
            request(alice, "override", {**override, "user": "alice", "transaction": 1})
            await wait_for(lambda: answers(alice, "override"), "the answer to alice")
            assert answers(alice, "override")[0]["status"] == "ok"
            await wait_for(
                lambda: world.truth("main.r101").lights == 1.0, "the override to reach the light"
            )

            request(bob, "release", {"actuator": "main.r101.lights", "user": "bob"})
            await wait_for(lambda: answers(bob, "release"), "the answer to bob")
            refused = answers(bob, "release")[0]
            assert refused["status"] == "error"
            assert refused["error"] == (
                "bob has no role in this controller's --staff list and may not release an override"
            )
            assert controller.engine.has_override("main.r101.lights")

            forged = {"actuator": "main.r101.lights", "user": "alice", "transaction": "forged"}
            request(display, "release", forged)
            request(alice, "explain", {"target": "main.r101.lights", "transaction": 2})
            await wait_for(lambda: answers(alice, "explain"), "the answer to explain")
            released = [a for a in answers(alice, "release") if a.get("transaction") == "forged"]
            assert released == [], "the display's request reached the controller"
            assert controller.engine.has_override("main.r101.lights")
    finally:
        simulator.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await sim_task
        for account in (alice, bob, display):
            account.close()


def test_rules_explain_asks_the_controller_over_tls_with_a_password_file(
    secure_broker: SecureBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`campusctl rules explain` against a controller on the TLS + password broker: the command
    line's client connects as the other clients do (it had neither TLS nor password files)."""
    campus, rules = load(tmp_path)
    url = secret(tmp_path, secure_broker, "alice")
    argv = ["rules", "explain", "main.r101.lights", "--config", str(tmp_path / "campus.yaml")]
    argv += ["--broker", url, "--timeout", "10"]

    async def scenario() -> int:
        clock = ScaledClock(START, 60.0)
        options = ServiceOptions(broker_url=secret(tmp_path, secure_broker, "controller"))
        async with controlling(campus, rules, clock, options):
            return await asyncio.to_thread(main, argv)

    assert asyncio.run(scenario()) == 0
    answer = capsys.readouterr().out
    assert "main.r101.lights" in answer
    assert PASSWORDS["alice"] not in answer


def test_the_tui_link_follows_the_site_over_tls(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    from tui.link import MqttLink

    async def follow() -> None:
        seen: list[str] = []
        states: list[bool] = []
        address = parse_broker_url(secret(tmp_path, secure_broker, "display"))
        link = MqttLink(
            address,
            user="display",
            on_message=lambda topic, payload: seen.append(topic),
            on_connection=lambda up, text: states.append(up),
        )
        link.start(asyncio.get_running_loop())
        try:
            await wait_for(lambda: True in states, "the TUI link to connect")
            link.follow("sec")
            publisher = Account(secure_broker, "controller", PASSWORDS["controller"])
            publisher.publish("campusctl/sec/alarms", '{"ts":0,"alarms":[]}')
            publisher.close()
            await wait_for(lambda: "campusctl/sec/alarms" in seen, "the alarms message")
        finally:
            link.stop()

    asyncio.run(follow())


def test_a_world_readable_password_file_is_warned_about(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    campus, rules = load(tmp_path)
    url = secret(tmp_path, secure_broker, "controller")
    (tmp_path / "controller.password").chmod(0o644)
    caplog.set_level(logging.WARNING, logger="campusctl.secrets")
    build_controller(
        campus, load_rules([rules], campus), ScaledClock(START, 1.0), ServiceOptions(url)
    )
    warnings = [r.getMessage() for r in caplog.records if r.name == "campusctl.secrets"]
    assert warnings, "no warning about the world-readable password file"
    assert "controller.password" in warnings[0]
    assert "chmod 600" in warnings[0]
    assert PASSWORDS["controller"] not in caplog.text


def test_a_broker_signed_by_another_ca_is_refused(
    secure_broker: SecureBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.support.secure_mosquitto import make_pki

    other = make_pki(tmp_path / "other")
    url = secret(tmp_path, secure_broker, "controller").replace(
        str(secure_broker.pki.ca_cert), str(other.ca_cert)
    )
    caplog.set_level(logging.WARNING, logger="campusctl.mqtt")
    stats = asyncio.run(_connect_briefly(url, tmp_path))
    assert not stats.connects
    assert stats.connect_failures >= 1
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert "is it a TLS port?" not in caplog.text  # it is: its certificate is the problem


def test_client_certificates_when_the_broker_requires_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    passwords = {"controller": PASSWORDS["controller"]}
    acl = "user controller\ntopic readwrite #\n"
    caplog.set_level(logging.WARNING, logger="campusctl.mqtt")
    with running_secure_mosquitto(
        tmp_path / "broker", passwords, acl, require_certificate=True
    ) as broker:
        url = secret(tmp_path, broker, "controller")
        without = asyncio.run(_connect_briefly(url, tmp_path))
        assert not without.connects
        assert "is it a TLS port?" not in caplog.text  # TLS it is: it wants our certificate
        pki = broker.pki
        with_cert = asyncio.run(
            _connect_briefly(f"{url}&cert={pki.client_cert}&key={pki.client_key}", tmp_path)
        )
        assert with_cert.connects == 1


async def _connect_briefly(url: str, folder: Path) -> Any:
    campus, _ = load(folder)
    settings = MqttSettings(url=url, connect_timeout=2.0, reconnect_min=0.2, reconnect_max=0.5)
    driver = MqttDriver(campus, settings, ScaledClock(START, 1.0))
    async with driver:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(driver.wait_connected(), 3.0)
    return driver.stats


def test_a_burst_over_tls_arrives_whole(secure_broker: SecureBroker, tmp_path: Path) -> None:
    """TLS hands over records holding many MQTT packets: none may wait in the SSL buffer."""
    campus, _ = load(tmp_path)
    burst = 3000

    async def receive() -> int:
        url = secret(tmp_path, secure_broker, "controller")
        driver = MqttDriver(campus, MqttSettings(url=url), ScaledClock(START, 1.0))
        async with driver:
            await asyncio.wait_for(driver.wait_connected(), 10)
            bridge = Account(secure_broker, "zigbee2mqtt", PASSWORDS["zigbee2mqtt"])
            try:
                for i in range(burst - 1):
                    payload = json.dumps({"co2": 400 + i % 1000})
                    bridge.client.publish("zigbee2mqtt/main-r101-multisensor", payload)
                bridge.publish("zigbee2mqtt/main-r102-multisensor", '{"co2": 999}')
                got = 0
                end = time.monotonic() + 20
                while got < burst and time.monotonic() < end:
                    with contextlib.suppress(TimeoutError):
                        batch = await asyncio.wait_for(driver.readings.get(), 1.0)
                        got += sum(
                            1 for m in batch for r in m if r.point.endswith(".co2") and r.value
                        )
                return got
            finally:
                bridge.close()

    assert asyncio.run(receive()) == burst
