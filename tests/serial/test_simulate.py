"""``campusctl simulate --serial ROOM=PROTOCOL[:PATH]``: rooms' sensors moved to ptys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from campus.config import load_campus
from campus.model import Campus, SerialProtocol
from simulators.serial.options import SerialSpec, parse_specs, without_mqtt
from tests.drivers.helpers import Peer
from tests.support.mosquitto import Broker
from tests.support.waiting import wait_for_blocking

CAMPUS = """\
site: {id: simserial, name: Simulated serial, timezone: Europe/Oslo}
kinds:
  classroom:
    points:
      occupancy: {type: bool, mqtt: &ms {topic: "simserial/{building}-{room}-ms"}}
      illuminance: {mqtt: *ms}
      co2: {mqtt: *ms}
      pm2_5: {mqtt: *ms}
buildings:
  - id: main
    rooms: [{id: r101..r102, kind: classroom, capacity: 28, area: 60}]
"""


def campus(tmp_path: Path) -> Campus:
    (tmp_path / "campus.yaml").write_text(CAMPUS)
    return load_campus(tmp_path / "campus.yaml")


def test_specs_parse_and_say_what_is_wrong(tmp_path: Path) -> None:
    c = campus(tmp_path)
    specs = parse_specs(["main.r101=mhz19b:/tmp/co2", "main.r102=sds011"], c)
    assert specs == [
        SerialSpec("main.r101", SerialProtocol.MHZ19B, Path("/tmp/co2")),
        SerialSpec("main.r102", SerialProtocol.SDS011),
    ]
    for text, message in [
        ("main.r101", "write ROOM=PROTOCOL"),
        ("main.r109=mhz19b", "no room 'main.r109'"),
        ("main.r101=mhz19", "protocol is one of mhz19b, sds011, senseair-s8, ascii"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_specs([text], c)
    with pytest.raises(ValueError, match="has a mhz19b already"):
        parse_specs(["main.r101=mhz19b", "main.r101=mhz19b:/tmp/x"], c)


def test_moved_values_leave_mqtt(tmp_path: Path) -> None:
    c = campus(tmp_path)
    moved = without_mqtt(c, parse_specs(["main.r101=mhz19b", "main.r101=ascii"], c))
    r101, r102 = moved.room("main.r101"), moved.room("main.r102")
    assert [n for n, p in r101.points.items() if p.mqtt is not None] == ["pm2_5"]
    assert all(p.mqtt is not None for p in r102.points.values())


@pytest.mark.serial
@pytest.mark.mqtt
def test_simulate_puts_a_room_co2_sensor_on_a_pty(broker: Broker, tmp_path: Path) -> None:
    campus(tmp_path)
    link = tmp_path / "r101-co2"
    peer = Peer(broker.host, broker.port)
    peer.subscribe("simserial/#")
    simulate = subprocess.Popen(
        [
            *(sys.executable, "-m", "controller.cli", "simulate"),
            *("--config", str(tmp_path / "campus.yaml"), "--broker", broker.url),
            *("--serial", f"main.r101=mhz19b:{link}", "--duration", "30"),
            *("--start", "2026-11-23 10:20", "--report-interval", "1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert simulate.stdout is not None
        announced = simulate.stdout.readline().split()
        assert announced[:3] == ["serial", "main.r101", "mhz19b"]
        assert announced[3].startswith("/dev/pts/")
        assert announced[4] == str(link)
        read = subprocess.run(
            [
                *(sys.executable, "-m", "controller.cli", "serial", "read", str(link)),
                *("--protocol", "mhz19b", "--count", "2", "--interval", "0.2"),
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert read.returncode == 0, read.stderr
        lines = read.stdout.splitlines()
        assert lines[0].startswith("co2 ")
        assert lines[0].endswith(" ppm")
        assert 350 <= float(lines[0].split()[1]) <= 5000
        wait_for_blocking(
            lambda: (
                peer.payloads("simserial/main-r101-ms") and peer.payloads("simserial/main-r102-ms")
            ),
            "a report from each room's multisensor",
            10,
        )
        r101 = json.loads(peer.payloads("simserial/main-r101-ms")[-1])
        r102 = json.loads(peer.payloads("simserial/main-r102-ms")[-1])
        assert "co2" not in r101, "the moved value no longer goes over MQTT"
        assert "co2" in r102
        assert "illuminance" in r101
    finally:
        simulate.terminate()
        simulate.wait(10)
        peer.close()
