"""When the broker connection reads its socket again: at once, or after a short linger.

A socket that delivers messages a few at a time wakes the controller for every one or two of
them, and a wake-up (the event loop's pass, ``epoll_wait``, ``recv``, the commands' ``send``,
caches gone cold meanwhile) costs the controller more than the messages it brings. While
messages come fast, a connection that reads a few and then waits a moment before reading again
gets them in batches: one wake-up for many. This is what network cards do with interrupt
moderation and Kafka's consumers with ``fetch.max.wait.ms``, and the price is latency: a message
waits up to the linger (at least the event loop's timer granularity, 1 ms with epoll) before it
is read.

So the connection lingers only when waiting gathers a batch: messages arrived at a rate that
brings at least `LINGER_MESSAGES` within a linger (measured over `RATE_WINDOW`), and the pass
that just ended brought fewer than `LINGER_BATCH` (a larger one means the batches are large
already, or the controller is behind and must not wait). At a campus's everyday rates it never
lingers and every message is read as it comes. Lingering changes how messages are split into
batches, never what they cause: the engine's result does not depend on the split
(`Engine.on_messages`). Measurements: bench/README.md, campus load, item 17.

Pure logic on monotonic times the caller passes; no sockets.
"""

from __future__ import annotations

RATE_WINDOW = 0.01
"""Seconds over which the arrival rate is judged; the decision holds for the next window."""
LINGER_MESSAGES = 4
"""Messages a linger must be expected to gather for the connection to linger at all."""
LINGER_BATCH = 32
"""A pass that brought this many messages or more is not followed by a linger."""


class ReadPacing:
    """Whether to linger after each pass of reads, from the messages the passes brought."""

    def __init__(self, linger: float) -> None:
        """`linger`: seconds to wait before reading again; 0 or less: never wait."""
        self.linger = linger
        self._threshold = LINGER_MESSAGES / linger if linger > 0 else 0.0
        """Messages a second from which lingering pays."""
        self._window_start = 0.0
        self._window_messages = 0
        self._fast = False
        """Whether the last whole window's rate reached `_threshold`."""

    def after_pass(self, now: float, messages: int) -> bool:
        """A pass of reads that brought `messages` ended at `now`: whether to wait `linger`
        seconds before reading the socket again."""
        if self._threshold <= 0.0:
            return False
        self._window_messages += messages
        span = now - self._window_start
        if span >= RATE_WINDOW:
            self._fast = self._window_messages >= self._threshold * span
            self._window_start, self._window_messages = now, 0
        return self._fast and 0 < messages < LINGER_BATCH
