"""A school's Mosquitto bridged to a district Mosquitto with the snippet `campusctl district
bridge-config` prints: the district sees the school's control plane, its requests reach the
school's controller and are answered, the school keeps working while the district broker is
down, and when the link returns the district's picture is the school's current one."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from campus.brokerurl import parse_broker_url
from controller.district import bridge_config
from controller.district import main as district_main
from tests.controlplane.harness import PlaneClient, running_campus, unique_site
from tests.support.aio import run_async
from tests.support.mosquitto import Broker, free_port, running_mosquitto
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.mqtt, pytest.mark.district]

LIGHTS = "main.r101.lights"
FAN = "main.r102.ventilation"


def linked(client: PlaneClient) -> bool:
    """The bridge's notification on the district: 1 while the school's link is up."""
    with client._lock:
        return client.retained.get(f"{client.base}/bridge") == b"1"


def holder(client: PlaneClient, room: str, actuator: str) -> Any:
    state = client.latest(f"room/{room.replace('.', '/')}")
    return state["actuators"][actuator]["source"] if state else None


@run_async
async def test_a_school_bridged_to_the_district_is_seen_steered_and_caught_up(
    tmp_path: Path,
) -> None:
    site = unique_site("school")
    port = free_port()
    district_up = contextlib.ExitStack()
    district = district_up.enter_context(running_mosquitto(tmp_path / "district", port))
    try:
        bridge = bridge_config(site, parse_broker_url(district.url))
        with running_mosquitto(tmp_path / "school", extra=bridge) as school:
            async with running_campus(school, tmp_path, site=site) as campus:
                seen = PlaneClient(district, site)
                try:
                    await wait_for(lambda: linked(seen), "the link state on the district")
                    await wait_for(lambda: seen.latest("campus"), "the school's campus")
                    await wait_for(lambda: seen.latest("controller"), "the school's controller")
                    await wait_for(lambda: holder(seen, "main.r101", "lights"), "a room")
                    body = {"actuator": LIGHTS, "value": "on", "duration": "1h", "user": "dana"}
                    answer = await seen.request("override", body)
                    assert answer["status"] == "ok", answer
                    assert campus.controller.engine.has_override(LIGHTS)
                    await wait_for(
                        lambda: holder(seen, "main.r101", "lights") == "override:dana",
                        "the override in the room state the district sees",
                    )
                finally:
                    seen.close()

                # the district broker goes down: the school goes on alone
                district_up.close()
                readings = campus.controller.readings
                local = PlaneClient(school, site)
                try:
                    body = {"actuator": FAN, "value": 100, "duration": "1h", "user": "sam"}
                    answer = await local.request("override", body)
                    assert answer["status"] == "ok", answer
                finally:
                    local.close()
                await wait_for(
                    lambda: campus.controller.readings > readings + 20,
                    "readings handled while the district is down",
                )

                # a new district broker, empty, on the same address: the link comes back and
                # the school publishes its state again
                district_up = contextlib.ExitStack()
                district = district_up.enter_context(
                    running_mosquitto(tmp_path / "district-again", port)
                )
                seen = PlaneClient(district, site)
                try:
                    await wait_for(lambda: linked(seen), "the link back up", 60)
                    await wait_for(
                        lambda: holder(seen, "main.r102", "ventilation") == "override:sam",
                        "the change made during the outage, on the district",
                    )
                    assert holder(seen, "main.r101", "lights") == "override:dana"
                    assert seen.latest("campus") is not None
                finally:
                    seen.close()
    finally:
        district_up.close()


def test_bridge_config_prints_tls_credentials_and_topics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    url = f"mqtts://north-bridge@district.example:8883?ca=/etc/ca.pem&password_file={secret}"
    assert district_main(["bridge-config", "--site", "north", "--district", url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "address district.example:8883" in out
    assert "remote_username north-bridge" in out
    assert "remote_password s3cret" in out
    assert "bridge_cafile /etc/ca.pem" in out
    assert "cleansession false" in out
    assert "notification_topic campusctl/north/bridge" in out
    assert "topic campusctl/north/request/# in 0" in out
    assert "topic campusctl/north/room/# out 1" in out
    assert not [line for line in out if " in " in line and "request" not in line]


def test_bridge_config_refuses_what_cannot_be_a_site(broker: Broker) -> None:
    from campus.problems import CampusError

    with pytest.raises(CampusError, match="site id"):
        bridge_config("a/b", parse_broker_url(broker.url))
