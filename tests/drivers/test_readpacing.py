"""When the broker connection lingers before reading again (drivers/mqtt/readpacing.py): pure
logic on the times and message counts of its passes of reads."""

from __future__ import annotations

from drivers.mqtt.readpacing import LINGER_BATCH, LINGER_MESSAGES, RATE_WINDOW, ReadPacing

LINGER = 0.001
THRESHOLD = LINGER_MESSAGES / LINGER  # messages a second from which a linger pays


def passes(
    pacing: ReadPacing, start: float, rate: float, seconds: float, per_pass: int
) -> list[bool]:
    """Passes of `per_pass` messages at `rate` messages a second from `start`: the decisions."""
    gap = per_pass / rate
    count = int(seconds / gap)
    return [pacing.after_pass(start + (i + 1) * gap, per_pass) for i in range(count)]


def test_messages_at_an_everyday_rate_are_read_as_they_come() -> None:
    pacing = ReadPacing(LINGER)
    assert not any(passes(pacing, 100.0, THRESHOLD / 4, 2.0, 1))


def test_messages_coming_fast_a_few_at_a_time_are_read_after_a_linger() -> None:
    pacing = ReadPacing(LINGER)
    rate, per_pass = THRESHOLD * 2, 2
    decided = passes(pacing, 100.0, rate, 0.1, per_pass)
    # the first window judges the rate; from the second on every pass lingers
    settled = decided[int(2 * RATE_WINDOW * rate / per_pass) :]
    assert len(settled) > 10
    assert all(settled)
    assert not decided[0]


def test_a_large_pass_is_not_followed_by_a_linger() -> None:
    pacing = ReadPacing(LINGER)
    passes(pacing, 100.0, THRESHOLD * 2, 0.1, 2)
    assert pacing.after_pass(100.1001, LINGER_BATCH - 1)
    assert not pacing.after_pass(100.1002, LINGER_BATCH)
    assert not pacing.after_pass(100.1003, 0)


def test_the_rate_is_judged_again_each_window() -> None:
    pacing = ReadPacing(LINGER)
    assert all(passes(pacing, 100.0, THRESHOLD * 2, 0.1, 2)[-10:])
    # the flood ends: one message after a quiet window, and lingering stops
    assert not pacing.after_pass(100.2, 1)
    assert not any(passes(pacing, 100.2, THRESHOLD / 2, 0.1, 1))


def test_no_linger_set_means_never_lingering() -> None:
    pacing = ReadPacing(0.0)
    assert not any(passes(pacing, 100.0, THRESHOLD * 100, 0.1, 2))
