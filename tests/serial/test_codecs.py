"""The codecs against the example frames of docs/domain.md §1 and the datasheets."""

from __future__ import annotations

import pytest

from drivers.serial.protocols import ascii, mhz19b, modbus, sds011
from drivers.serial.protocols import senseair_s8 as s8
from drivers.serial.protocols.framing import FrameError, hexbytes


def frame(text: str) -> bytes:
    return bytes.fromhex(text)


# -- MH-Z19B ------------------------------------------------------------------------------------


def test_mhz19b_requests_are_the_documented_bytes() -> None:
    assert mhz19b.read_request() == frame("FF 01 86 00 00 00 00 00 79")
    assert mhz19b.zero_request() == frame("FF 01 87 00 00 00 00 00 78")
    assert mhz19b.span_request(2000) == frame("FF 01 88 07 D0 00 00 00 A0")
    assert mhz19b.abc_request(True) == frame("FF 01 79 A0 00 00 00 00 E6")
    assert mhz19b.abc_request(False) == frame("FF 01 79 00 00 00 00 00 86")
    # the range goes in bytes 6-7, not 3-4 as the datasheet says
    assert mhz19b.range_request(2000) == frame("FF 01 99 00 00 00 07 D0 8F")
    assert mhz19b.range_request(5000) == frame("FF 01 99 00 00 00 13 88 CB")


def test_mhz19b_datasheet_and_own_examples_decode() -> None:
    assert mhz19b.decode_reading(frame("FF 86 02 20 00 00 00 00 58")).co2 == 544
    own = mhz19b.decode_reading(frame("FF 86 03 20 41 00 00 00 16"))
    assert (own.co2, own.temperature) == (800, 25)
    assert mhz19b.reading_reply(800, 25) == frame("FF 86 03 20 41 00 00 00 16")


def test_mhz19b_checksum_formula() -> None:
    assert mhz19b.checksum(frame("FF 86 02 20 00 00 00 00 58")) == 0x58
    assert mhz19b.checksum(frame("FF 01 86 00 00 00 00 00 79")) == 0x79


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("FF 86 02 20 00 00 00 00 59", "bad checksum 0x59, want 0x58"),
        ("FF 86 02 20 00 00 00 58", "has 9 bytes, got 8"),
        ("FE 86 02 20 00 00 00 00 58", "not an MH-Z19B reply"),
        ("FF 01 86 00 00 00 00 00 79", "not an MH-Z19B reply"),
    ],
)
def test_mhz19b_bad_frames_say_what_is_wrong_and_show_the_bytes(data: str, reason: str) -> None:
    with pytest.raises(FrameError, match=reason) as caught:
        mhz19b.decode_reading(frame(data))
    assert data in str(caught.value)


def test_mhz19b_request_decoding_for_the_simulator() -> None:
    request = mhz19b.decode_request(frame("FF 01 99 00 00 00 07 D0 8F"))
    assert request == mhz19b.Request(mhz19b.RANGE, frame("00 00 00 07 D0"))


# -- SDS011 -------------------------------------------------------------------------------------


def test_sds011_protocol_document_example_decodes() -> None:
    measured = sds011.decode(frame("AA C0 D4 04 3A 0A A1 60 1D AB"))
    assert measured == sds011.Measurement(123.6, 261.8, 0xA160)
    assert sds011.data_frame(123.6, 261.8, 0xA160) == frame("AA C0 D4 04 3A 0A A1 60 1D AB")


def test_sds011_commands_are_the_documented_bytes() -> None:
    zeros = "00 " * 12
    assert sds011.query_request() == frame(f"AA B4 04 {zeros} FF FF 02 AB")
    assert sds011.reporting_mode_request(True) == frame(f"AA B4 02 01 01 {'00 ' * 10} FF FF 02 AB")
    assert sds011.sleep_request(True) == frame(f"AA B4 06 01 00 {'00 ' * 10} FF FF 05 AB")
    assert sds011.working_period_request(5)[2:5] == frame("08 01 05")
    assert len(sds011.firmware_request()) == sds011.COMMAND_FRAME


def test_sds011_reply_example_decodes() -> None:
    reply = sds011.decode(frame("AA C5 02 01 01 00 A1 60 05 AB"))
    assert reply == sds011.Reply(sds011.REPORTING_MODE, frame("01 01 00"), 0xA160)
    assert sds011.reply_frame(2, frame("01 01 00"), 0xA160) == frame(
        "AA C5 02 01 01 00 A1 60 05 AB"
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("AA C0 D4 04 3A 0A A1 60 1E AB", "bad checksum 0x1E, want 0x1D"),
        ("AA C0 D4 04 3A 0A A1 60 1D AA", "no AB"),
        ("AA C1 D4 04 3A 0A A1 60 1D AB", "AA not followed by C0/C5"),
        ("AA C0 D4 04 3A 0A A1 60 1D", "has 10 bytes"),
    ],
)
def test_sds011_bad_frames(data: str, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        sds011.decode(frame(data))


def test_sds011_command_decoding_for_the_simulator() -> None:
    command = sds011.decode_command(sds011.working_period_request(7, device=0xA160))
    assert (command.command, command.data[:2], command.device) == (8, bytes([1, 7]), 0xA160)
    with pytest.raises(ValueError, match="0-30"):
        sds011.working_period_request(31)


# -- Modbus and the Senseair S8 -----------------------------------------------------------------


def test_crc16_modbus_check_value() -> None:
    assert modbus.crc16(b"123456789") == 0x4B37


def test_s8_requests_are_the_documented_bytes() -> None:
    assert s8.read_co2_request() == frame("FE 04 00 03 00 01 D5 C5")
    assert s8.read_status_and_co2_request() == frame("FE 04 00 00 00 04 E5 C6")
    assert s8.abc_period_request(180) == frame("FE 06 00 1F 00 B4 AC 74")
    assert s8.abc_period_request(0) == frame("FE 06 00 1F 00 00 AC 03")
    assert s8.clear_acknowledgement_request() == frame("FE 06 00 00 00 00 9D C5")
    assert s8.calibration_request() == frame("FE 06 00 01 7C 06 6C C7")
    assert s8.read_acknowledgement_request() == frame("FE 03 00 00 00 01 90 05")


@pytest.mark.parametrize(
    ("data", "ppm"), [("FE 04 02 01 90 AC D8", 400), ("FE 04 02 03 88 AD B2", 904)]
)
def test_s8_co2_examples_decode(data: str, ppm: int) -> None:
    reply = modbus.decode_reply(frame(data), s8.ANY_ADDRESS)
    assert reply == modbus.Registers(0xFE, 4, (ppm,))
    assert s8.measurement(reply) == s8.Measurement(ppm, 0)


def test_s8_status_and_co2_in_one_reply() -> None:
    data = modbus.registers_reply(0xFE, 4, [0x0021, 0, 0, 812])
    measured = s8.measurement(modbus.decode_reply(data, 0xFE))
    assert measured == s8.Measurement(812, 0x21)
    assert not measured.trusted
    assert s8.describe_status(0x21) == "fatal error, out of range"
    assert s8.describe_status(0) == "ok"


def test_modbus_exception_and_write_echo() -> None:
    refused = modbus.exception_reply(0xFE, 4, 2)
    assert refused == frame("FE 84 02") + modbus.crc16(frame("FE 84 02")).to_bytes(2, "little")
    reply = modbus.decode_reply(refused, 0xFE)
    assert reply == modbus.ExceptionReply(0xFE, 4, 2)
    assert isinstance(reply, modbus.ExceptionReply)
    assert reply.meaning == "illegal data address"
    with pytest.raises(FrameError, match="exception 02"):
        s8.measurement(reply)
    echo = modbus.decode_reply(frame("FE 06 00 1F 00 B4 AC 74"), 0xFE)
    assert echo == modbus.Written(0xFE, 0x1F, 180)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("FE 04 02 01 90 AC D9", "bad CRC"),
        ("FE 04 03 01 90 00 AC D8", "impossible byte count"),
        ("FE 05 02 01 90 AC D8", "unknown function"),
        ("FE 04 02 01 90", "incomplete"),
        ("68 04 02 01 90 AC D8", "no frame start"),
    ],
)
def test_modbus_bad_replies(data: str, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        modbus.decode_reply(frame(data), 0xFE)


def test_modbus_request_decoding_for_the_simulator() -> None:
    assert modbus.decode_request(frame("FE 04 00 03 00 01 D5 C5")) == modbus.Request(0xFE, 4, 3, 1)
    with pytest.raises(FrameError, match="bad CRC"):
        modbus.decode_request(frame("FE 04 00 03 00 01 D5 C6"))
    with pytest.raises(ValueError, match=r"1\.\.125"):
        modbus.read_registers(0xFE, 4, 0, 0)


# -- ASCII boards -------------------------------------------------------------------------------


def test_ascii_line_of_the_issue() -> None:
    line = ascii.decode_line(b"lux=312 occ=1 t=21.5\r\n")
    assert line == ascii.Line({"lux": 312.0, "occ": 1.0, "t": 21.5})
    assert ascii.encode_line({"lux": 312, "occ": True, "t": 21.5}) == b"lux=312 occ=1 t=21.5\n"


def test_ascii_checksum_is_checked_when_sent() -> None:
    sent = ascii.encode_line({"lux": 312, "occ": True, "t": 21.5}, with_checksum=True)
    assert sent == b"lux=312 occ=1 t=21.5*5E\n"
    assert ascii.decode_line(sent) == ascii.Line({"lux": 312.0, "occ": 1.0, "t": 21.5})
    with pytest.raises(FrameError, match="bad checksum 5F, want 5E"):
        ascii.decode_line(b"lux=312 occ=1 t=21.5*5F\n")


def test_ascii_separators_comments_and_blank_lines() -> None:
    assert ascii.decode_line(b"co2=812,\trh=41.5 \n") == ascii.Line({"co2": 812.0, "rh": 41.5})
    assert ascii.decode_line(b"# booting v1.2\n") is None
    assert ascii.decode_line(b"\r\n") is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"lux=abc\n", "is not a number"),
        (b"lux312\n", "is not key=value"),
        (b"lux=1 lux=2\n", "lux twice"),
        (b"lux=1e999\n", "too large"),
        (b"lux=3\xff2\n", "not printable ASCII"),
        (b"lux=1*G1\n", "two-digit hex checksum"),
        (b"x=" + b"1" * 300 + b"\n", "longer than 200"),
    ],
)
def test_ascii_bad_lines(line: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        ascii.decode_line(line)


def test_ascii_key_map_renames_and_reports_unmapped_keys() -> None:
    line = ascii.Line({"lux": 312.0, "occ": 1.0, "dbg": 7.0})
    keys = {"lux": "illuminance", "occ": "occupancy"}
    assert ascii.rename(line, keys) == ({"illuminance": 312.0, "occupancy": 1.0}, ["dbg"])
    assert ascii.rename(line, {}) == (line.values, [])


def test_hexbytes_cuts_long_data() -> None:
    assert hexbytes(b"\xff\x86") == "FF 86"
    assert hexbytes(bytes(100), limit=4) == "00 00 00 00 ... (100 bytes)"
    assert hexbytes(b"") == "(no bytes)"
