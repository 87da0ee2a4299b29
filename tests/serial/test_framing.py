"""Finding frames in a stream: split frames, garbage, bad checksums, partial frames."""

from __future__ import annotations

from drivers.serial.protocols import ascii, mhz19b, modbus, sds011
from drivers.serial.protocols.framing import BadData, StreamParser

READING = bytes.fromhex("FF 86 03 20 41 00 00 00 16")
PM = bytes.fromhex("AA C0 D4 04 3A 0A A1 60 1D AB")


def test_a_frame_in_single_bytes_decodes_once_complete() -> None:
    parser = StreamParser(mhz19b.ReplyFramer())
    for byte in READING[:-1]:
        assert parser.feed(bytes([byte])) == []
    assert parser.pending == 8
    assert parser.feed(READING[-1:]) == [mhz19b.Reply(0x86, READING[2:8])]
    assert (parser.stats.frames, parser.stats.bad_bytes, parser.stats.good_bytes) == (1, 0, 9)


def test_garbage_before_a_frame_is_one_run_of_bad_bytes() -> None:
    parser = StreamParser(mhz19b.ReplyFramer())
    out = parser.feed(b"\x00\x13\x37" + READING)
    assert out == [
        BadData(b"\x00\x13\x37", "no frame start (FF)"),
        mhz19b.Reply(0x86, READING[2:8]),
    ]
    assert str(out[0]) == "discarded 3 bytes (no frame start (FF)): 00 13 37"
    assert parser.stats.bad_bytes == 3


def test_a_bad_checksum_is_counted_and_the_next_frame_still_decodes() -> None:
    parser = StreamParser(mhz19b.ReplyFramer())
    corrupt = READING[:8] + b"\x17"
    out = parser.feed(corrupt + READING)
    assert out[-1] == mhz19b.Reply(0x86, READING[2:8])
    assert isinstance(out[0], BadData)
    assert out[0].data == corrupt
    assert out[0].reason == "bad checksum 0x17, want 0x16"
    assert (parser.stats.bad_frames, parser.stats.bad_bytes, parser.stats.frames) == (1, 9, 1)


def test_a_frame_starting_inside_a_false_start_is_found() -> None:
    """A stray FF right before a frame: the candidate fails, the real frame one byte on wins."""
    parser = StreamParser(mhz19b.ReplyFramer())
    out = parser.feed(b"\xff" + READING)
    assert out[-1] == mhz19b.Reply(0x86, READING[2:8])
    assert parser.stats.bad_bytes == 1


def test_flush_drops_a_partial_frame_as_bad() -> None:
    parser = StreamParser(sds011.FrameFramer())
    assert parser.feed(PM[:6]) == []
    bad = parser.flush()
    assert bad == BadData(PM[:6], "incomplete frame")
    assert parser.flush() is None
    assert parser.feed(PM) == [sds011.Measurement(123.6, 261.8, 0xA160)]
    assert (parser.stats.bad_frames, parser.stats.bad_bytes) == (1, 6)


def test_sds011_stream_with_a_truncated_frame_resyncs_on_the_next() -> None:
    parser = StreamParser(sds011.FrameFramer())
    out = parser.feed(PM[:7] + PM + PM)
    frames = [x for x in out if isinstance(x, sds011.Measurement)]
    assert len(frames) == 2
    assert parser.stats.bad_bytes == 7


def test_modbus_reply_after_noise_and_an_exception() -> None:
    parser = StreamParser(modbus.ReplyFramer(0xFE))
    reply = bytes.fromhex("FE 04 02 01 90 AC D8")
    out = parser.feed(b"\x00\xfe\x04" + modbus.exception_reply(0xFE, 4, 2) + reply)
    good = [x for x in out if not isinstance(x, BadData)]
    assert good == [modbus.ExceptionReply(0xFE, 4, 2), modbus.Registers(0xFE, 4, (400,))]


def test_ascii_overlong_line_is_dropped_to_its_newline() -> None:
    parser = StreamParser(ascii.LineFramer())
    out = parser.feed(b"x=1" * 100)
    out += parser.feed(b"x=1 " * 20 + b"\nlux=5\n")
    assert out[-1] == ascii.Line({"lux": 5.0})
    assert all(isinstance(x, BadData) for x in out[:-1])
    assert parser.stats.bad_frames == 1
    assert parser.stats.bad_bytes == 300 + 80 + 1


def test_ascii_bad_line_then_good_line() -> None:
    parser = StreamParser(ascii.LineFramer())
    out = parser.feed(b"lux=3?2\nlux=312\n# note\n")
    assert out == [
        BadData(b"lux=3?2\n", "lux='3?2' is not a number"),
        ascii.Line({"lux": 312.0}),
        ascii.Line({}),
    ]
