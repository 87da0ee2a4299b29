"""``campusctl serial read|calibrate`` against simulated sensors on pseudo-terminals."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from campus.model import SerialPort, SerialProtocol
from controller.cli import main
from drivers.serial import tool
from simulators.serial.ascii_board import AsciiBoardDevice
from simulators.serial.mhz19b import Mhz19bDevice
from simulators.serial.runner import SerialSimulator
from simulators.serial.sds011 import Sds011Device
from simulators.serial.senseair_s8 import SenseairS8Device
from tests.serial.support import Values, simulator_thread

pytestmark = pytest.mark.serial


def room() -> Values:
    return Values(
        {"co2": 812.0, "temperature": 21.4, "pm2_5": 12.3, "pm10": 20.1, "illuminance": 312.0}
    )


def test_read_prints_each_value_with_its_unit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = SerialSimulator()
    values = room()
    sim.add("co2", Mhz19bDevice(values), tmp_path / "co2")
    sim.add("pm", Sds011Device(values, interval=0.05), tmp_path / "pm")
    sim.add("board", AsciiBoardDevice(values, interval=0.05), tmp_path / "board")
    with simulator_thread(sim):
        co2 = ["serial", "read", str(tmp_path / "co2"), "--protocol", "mhz19b"]
        assert main([*co2, "--count", "2", "--interval", "0.05"]) == 0
        assert capsys.readouterr().out == "co2 812 ppm\ntemperature 21 °C\n" * 2
        assert (
            main(["serial", "read", str(tmp_path / "pm"), "--protocol", "sds011", "--count", "1"])
            == 0
        )
        assert capsys.readouterr().out == "pm2_5 12.3 µg/m³\npm10 20.1 µg/m³\n"
        board = ["serial", "read", str(tmp_path / "board"), "--protocol", "ascii", "--count", "1"]
        assert main([*board, "--keys", "lux=illuminance"]) == 0
        assert capsys.readouterr().out == "illuminance 312 lx\n"


def test_read_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serial", "read", str(tmp_path / "nothing"), "--protocol", "mhz19b"]) == 1
    assert "cannot open" in capsys.readouterr().err
    sim = SerialSimulator()
    sim.add("quiet", Mhz19bDevice(room()), tmp_path / "quiet").device.faults.silent = True
    with simulator_thread(sim):
        port = SerialPort("q", str(tmp_path / "quiet"), SerialProtocol.MHZ19B, poll_interval=0.05)
        err = io.StringIO()
        assert tool.read(port, count=1, out=io.StringIO(), err=err, patience=0.5) == 1
        assert "no reading in 0.55 s; check the wiring" in err.getvalue()


def test_calibrate_an_mhz19b(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim = SerialSimulator()
    device = Mhz19bDevice(room())
    sim.add("co2", device, tmp_path / "co2")
    with simulator_thread(sim):
        args = ["serial", "calibrate", str(tmp_path / "co2"), "--protocol", "mhz19b"]
        assert main([*args, "zero"]) == 0
        out = capsys.readouterr().out
        assert "sent zero: FF 01 87 00 00 00 00 00 78" in out
        assert "does not answer this command" in out
        assert "it reads 400 ppm now" in out
        assert main([*args, "abc-off"]) == 0
        assert "sent abc-off: FF 01 79 00 00 00 00 00 86" in capsys.readouterr().out
        assert device.abc is False


def test_calibrate_a_senseair_s8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim = SerialSimulator()
    device = SenseairS8Device(room())
    sim.add("s8", device, tmp_path / "s8")
    with simulator_thread(sim):
        args = ["serial", "calibrate", str(tmp_path / "s8"), "--protocol", "senseair-s8"]
        assert main([*args, "abc-off"]) == 0
        assert "ABC period set: off (FE 06 00 1F 00 00 AC 03 echoed)" in capsys.readouterr().out
        assert device.abc_hours == 0
        port = SerialPort("s8", str(tmp_path / "s8"), SerialProtocol.SENSEAIR_S8)
        out = io.StringIO()
        assert tool.calibrate(port, "zero", out=out, err=io.StringIO(), wait=0.05) == 0
        assert "acknowledgement register 0x0020: calibration done" in out.getvalue()
        assert device.co2() == 400
        device.faults.bad_checksum = True
        err = io.StringIO()
        assert tool.calibrate(port, "abc-on", out=io.StringIO(), err=err) == 1
        assert "bad CRC" in err.getvalue()
        assert "no answer to FE 06 00 1F 00 B4 AC 74" in err.getvalue()
