"""The serial driver against simulated sensors on real pseudo-terminals."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from campus.clock import VirtualClock
from campus.config import load_campus
from campus.model import ActuatorSpec, ActuatorType, Campus
from campus.problems import DriverError
from campus.types import Command, Reading
from drivers.serial.driver import SerialDriver
from drivers.serial.port import SerialTiming
from simulators.serial.ascii_board import AsciiBoardDevice
from simulators.serial.device import SerialDevice
from simulators.serial.mhz19b import Mhz19bDevice
from simulators.serial.runner import SerialSimulator
from simulators.serial.sds011 import Sds011Device
from simulators.serial.senseair_s8 import SenseairS8Device
from tests.serial.support import FAST, Values
from tests.support.aio import run_async
from tests.support.waiting import wait_for

pytestmark = pytest.mark.serial

T0 = 1_800_000_000.0

CAMPUS = """\
site: {{id: serialtest, name: Serial test, timezone: Europe/Oslo}}
serial:
  mhz: {{device: {dir}/mhz, protocol: mhz19b, poll_interval: 0.1, timeout: 0.3}}
  s8: {{device: {dir}/s8, protocol: senseair-s8, poll_interval: 0.1, timeout: 0.3}}
  pm: {{device: {dir}/pm, protocol: sds011, timeout: 0.3}}
  board:
    device: {dir}/board
    protocol: ascii
    keys: {{lux: illuminance, occ: occupancy, t: temperature}}
  spare: {{device: {dir}/spare, protocol: mhz19b}}
kinds:
  room:
    points:
      co2: {{unit: ppm, range: [0, 5000], stale_after: 1m, serial: {{port: mhz}}}}
      co2_s8: {{unit: ppm, range: [0, 5000], serial: {{port: s8, field: co2}}}}
      s8_status: {{serial: {{port: s8, field: status}}}}
      pm2_5: {{serial: {{port: pm}}}}
      pm10: {{serial: {{port: pm}}}}
      illuminance: {{serial: {{port: board}}}}
      occupancy: {{type: bool, serial: {{port: board}}}}
      temperature: {{serial: {{port: board}}}}
      s8_fault: {{type: bool, serial: {{port: s8, field: status}}}}
buildings:
  - id: b1
    rooms: [{{id: r1, kind: room}}]
"""


@dataclass
class Bench:
    driver: SerialDriver
    sim: SerialSimulator
    clock: VirtualClock
    values: Values
    devices: dict[str, SerialDevice]
    readings: list[Reading]

    def latest(self, point: str) -> Reading | None:
        found = [r for r in self.readings if r.point == f"b1.r1.{point}"]
        return found[-1] if found else None

    def count(self, point: str) -> int:
        return sum(r.point == f"b1.r1.{point}" for r in self.readings)

    async def next_reading(self, point: str, within: float = 5.0) -> float:
        """Wait for a new reading of `point`; returns the wall seconds it took."""
        before = self.count(point)
        return await wait_for(lambda: self.count(point) > before, f"{point}", within)

    async def collect(self) -> None:
        while True:
            for message in await self.driver.readings.get():
                self.readings.extend(message)


def campus_in(folder: Path) -> Campus:
    path = folder / "campus.yaml"
    path.write_text(CAMPUS.format(dir=folder))
    return load_campus(path)


@asynccontextmanager
async def bench(folder: Path, timing: SerialTiming = FAST) -> AsyncIterator[Bench]:
    values = Values(
        {
            "co2": 812.0,
            "temperature": 21.4,
            "pm2_5": 12.3,
            "pm10": 20.1,
            "illuminance": 312.0,
            "occupancy": 1.0,
        }
    )
    devices: dict[str, SerialDevice] = {
        "mhz": Mhz19bDevice(values),
        "s8": SenseairS8Device(values),
        "pm": Sds011Device(values, interval=0.1),
        "board": AsciiBoardDevice(values, interval=0.1),
    }
    sim = SerialSimulator()
    for name, device in devices.items():
        sim.add(name, device, link=folder / name)
    clock = VirtualClock(T0)
    async with sim, SerialDriver(campus_in(folder), clock, timing) as driver:
        b = Bench(driver, sim, clock, values, devices, [])
        collector = asyncio.create_task(b.collect())
        try:
            yield b
        finally:
            collector.cancel()


@run_async
async def test_every_protocol_feeds_its_points_stamped_by_the_clock(tmp_path: Path) -> None:
    async with bench(tmp_path) as b:
        b.clock.advance(42)
        for point in ("co2", "co2_s8", "pm2_5", "illuminance"):
            await b.next_reading(point)
        assert b.latest("co2") == Reading("b1.r1.co2", 812.0, T0 + 42)
        assert b.latest("co2_s8") == Reading("b1.r1.co2_s8", 812.0, T0 + 42)
        assert b.latest("s8_status") == Reading("b1.r1.s8_status", 0.0, T0 + 42)
        assert b.latest("pm2_5") == Reading("b1.r1.pm2_5", 12.3, T0 + 42)
        assert b.latest("pm10") == Reading("b1.r1.pm10", 20.1, T0 + 42)
        assert b.latest("illuminance") == Reading("b1.r1.illuminance", 312.0, T0 + 42)
        assert b.latest("occupancy") == Reading("b1.r1.occupancy", True, T0 + 42)
        assert b.latest("temperature") == Reading("b1.r1.temperature", 21.4, T0 + 42)
        b.values["co2"] = 1234.0
        await wait_for(lambda: _value(b, "co2") == 1234.0, "the new co2")
        ports = b.driver.ports
        assert set(ports) == {"mhz", "s8", "pm", "board"}
        assert all(p.connected and p.frames.bad_bytes == 0 for p in ports.values())
        assert ports["mhz"].polls > 0
        assert ports["pm"].polls == 0, "an SDS011 streams"


@pytest.mark.faults
@run_async
async def test_garbage_and_bad_checksums_are_counted_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "campusctl.serial")
    async with bench(tmp_path) as b:
        await b.next_reading("co2")
        mhz = b.driver.ports["mhz"]
        b.devices["mhz"].faults.noise = b"\x00\x13\x37"
        await wait_for(lambda: mhz.frames.bad_bytes >= 9, "noise counted")
        await b.next_reading("co2")
        assert "serial port mhz (" in caplog.text
        assert "(no frame start (FF)): " in caplog.text
        assert "13 37" in caplog.text, "the bytes are shown in hex"

        b.devices["mhz"].faults.noise = b""
        b.devices["mhz"].faults.bad_checksum = True
        bad = mhz.frames.bad_frames
        await wait_for(lambda: mhz.frames.bad_frames >= bad + 2, "bad checksums counted")
        assert "bad checksum 0x" in caplog.text
        assert "FF 86 03 2C" in caplog.text, "the frame is shown in hex"
        b.devices["mhz"].faults.bad_checksum = False
        await b.next_reading("co2")

        pm = b.driver.ports["pm"]
        b.devices["pm"].faults.bad_checksum = True
        await wait_for(lambda: pm.frames.bad_frames >= 2, "bad SDS011 frames counted")
        b.devices["pm"].faults.bad_checksum = False
        await b.next_reading("pm2_5")


@pytest.mark.faults
@run_async
async def test_a_silent_sensor_times_out_and_its_port_is_reopened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "campusctl.serial")
    async with bench(tmp_path) as b:
        await b.next_reading("co2_s8")
        s8 = b.driver.ports["s8"]
        b.devices["s8"].faults.silent = True
        await wait_for(lambda: s8.losses >= 1, "the silent port reopened")
        assert s8.timeouts >= 3
        assert "no reply to FE 04 00 00 00 04 E5 C6 within 0.3 s" in caplog.text
        # logged by the port's thread just after it counted the loss
        await wait_for(lambda: "no reply to 3 requests in a row" in caplog.text, "the loss logged")
        b.devices["s8"].faults.silent = False
        await b.next_reading("co2_s8")


@run_async
async def test_values_that_do_not_fit_their_point_are_rejected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "campusctl.serial")
    async with bench(tmp_path) as b:
        await b.next_reading("s8_fault")
        assert _value(b, "s8_fault") is False
        b.devices["s8"].meter_status = 0x02  # type: ignore[attr-defined]
        await wait_for(lambda: b.driver.stats.wrong_type > 0, "status 2 is not on/off")
        assert "meter status 0x0002 (offset regulation error)" in caplog.text
        assert "b1.r1.s8_fault is on/off, got 2; ignored" in caplog.text
        b.devices["s8"].meter_status = 0x01  # type: ignore[attr-defined]
        await wait_for(lambda: "CO2 value 812 not used" in caplog.text, "a fatal error")

        b.values["co2"] = 5001.0  # the MH-Z19B clips at its 5000 ppm range; the S8 does not
        b.devices["s8"].meter_status = 0  # type: ignore[attr-defined]
        await wait_for(lambda: b.driver.stats.implausible > 0, "an implausible co2 counted")
        await wait_for(lambda: _value(b, "co2") == 5000.0, "the clipped MH-Z19B value")
        assert _value(b, "co2_s8") == 812.0, "the S8's 5001 ppm was rejected"
        assert "b1.r1.co2_s8 = 5001 is outside the plausible range 0..5000" in caplog.text


def _value(b: Bench, point: str) -> object:
    reading = b.latest(point)
    return None if reading is None else reading.value


@pytest.mark.faults
@run_async
async def test_unplug_and_replug_recover_within_5_s(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "campusctl.serial")
    async with bench(tmp_path) as b:
        await b.next_reading("co2")
        await b.next_reading("pm2_5")
        for name in ("mhz", "pm"):
            b.sim.unplug(name)
        for name in ("mhz", "pm"):
            port = b.driver.ports[name]
            await wait_for(lambda p=port: not p.connected and p.open_failures >= 2, "retries")
            assert not (tmp_path / name).exists()
        seen = len(b.readings)
        await wait_for(lambda: b.driver.ports["mhz"].open_failures >= 4, "backoff retries")
        assert not [r for r in b.readings[seen:] if r.point in ("b1.r1.co2", "b1.r1.pm2_5")]

        for name in ("mhz", "pm"):
            b.sim.plug(name)
        took = {"co2": await b.next_reading("co2"), "pm2_5": await b.next_reading("pm2_5")}
        assert max(took.values()) < 5.0, took
        assert "serial port mhz" in caplog.text
        assert "lost (" in caplog.text
        assert "cannot open" in caplog.text
        assert "open again after" in caplog.text


@run_async
async def test_unused_ports_commands_and_stopping(tmp_path: Path) -> None:
    campus = campus_in(tmp_path)
    driver = SerialDriver(campus, VirtualClock(T0), FAST)
    assert driver.problems == [f"serial port spare ({tmp_path}/spare) feeds no point: not opened"]
    fan = ActuatorSpec("b1.r1.fan", "fan", "b1.r1", ActuatorType.LEVEL, 0.0)
    assert not driver.handles(fan)
    with pytest.raises(DriverError, match="reads sensors only"):
        driver.send(Command("b1.r1.fan", 50.0, T0, "rule:x", 10, "test"))
    async with driver:
        await wait_for(lambda: driver.ports["mhz"].open_failures > 0, "nothing to open")
        names = {f"serial-{port}" for port in driver.ports}
        threads = [t for t in threading.enumerate() if t.name in names]
        assert len(threads) == len(names) == 4, names  # one per port that feeds a point
    assert not any(t.is_alive() for t in threads)
