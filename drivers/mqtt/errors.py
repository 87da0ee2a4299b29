"""The one error a device payload can cause, typed by what was wrong with it.

Bad payloads are data, not bugs: the driver counts them by `Fault` (so the TUI and the benchmarks
can show "co2 sensor in 1.12 sends garbage") and logs them with topic and payload, then carries on.
"""

from __future__ import annotations

from enum import StrEnum

from campus.problems import DriverError

SHOWN_BYTES = 200
"""How much of a payload an error carries and prints: enough to recognise it, never a flood."""


class Fault(StrEnum):
    """What was wrong with a payload; the keys of `MqttStats.bad_payloads`."""

    NOT_JSON = "not_json"
    """A Zigbee2MQTT topic carried something that does not parse as JSON."""
    NOT_OBJECT = "not_object"
    """Valid JSON, but not an object (``[1,2]``, ``"x"``, ``412``) on a Zigbee2MQTT topic."""
    WRONG_TYPE = "wrong_type"
    """The value of a point has the wrong type (``"abc"`` for co2, ``3`` for occupancy)."""
    IMPLAUSIBLE = "implausible"
    """A number outside the point's plausible range."""
    BAD_AVAILABILITY = "bad_availability"
    """An availability message that says neither online nor offline."""


def show_payload(payload: bytes) -> str:
    """A payload as printable text for logs and errors, cut at `SHOWN_BYTES` bytes."""
    text = payload[:SHOWN_BYTES].decode("utf-8", "backslashreplace")
    if len(payload) > SHOWN_BYTES:
        return f"{text!r}... ({len(payload)} bytes)"
    return repr(text)


class PayloadError(DriverError):
    """A payload on `topic` that could not be used: `fault` says how, `detail` says what exactly.

    `target` is the point or actuator id the value was meant for, when the fault concerns one
    value rather than the whole message. `payload` holds at most `SHOWN_BYTES` bytes.
    """

    def __init__(
        self, topic: str, payload: bytes, fault: Fault, detail: str, target: str | None = None
    ) -> None:
        self.topic = topic
        self.payload = payload[:SHOWN_BYTES]
        self.size = len(payload)
        self.fault = fault
        self.detail = detail
        self.target = target
        super().__init__(f"{topic}: {detail}; payload {show_payload(payload)}")
