"""How the MQTT driver reaches its broker and how it behaves on a bad network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from campus.broker import BrokerAddress, parse_broker_url
from campus.problems import DriverError

Protocol = Literal["3.1.1", "5"]


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Driver settings; only `url` usually needs changing.

    `protocol` defaults to 3.1.1: nothing the driver does needs MQTT 5, and 3.1.1 is what every
    broker speaks, the demo's embedded amqtt (3.1.1 only) included. Choose "5" explicitly for a
    v5-only deployment; there is no silent fallback, which would hide a misconfigured broker.
    Times are wall-clock seconds (network timing, not simulated time).
    """

    url: str = "mqtt://127.0.0.1:1883"
    """``mqtt://[user[:password]@]host[:port]``; port 1883 by default."""
    client_id: str = ""
    """Empty: ``campusctl-<site>-<random>`` (unique, so two instances never kick each other)."""
    status_topic: str = ""
    """Empty: ``campusctl/<site>/status``; retained ``online``, ``offline`` as last will."""
    username: str | None = None
    """Overrides the user in the URL."""
    password: str | None = None
    protocol: Protocol = "3.1.1"
    keepalive: int = 30
    connect_timeout: float = 5.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    subscribe_qos: int = 0
    """Device telemetry at QoS 0: a clean session loses messages during an outage anyway."""
    max_queued: int = 10_000
    """QoS>0 publishes held while disconnected (beyond it the oldest are dropped and counted)."""
    missing_key_warn_after: int = 20
    """Warn when this many messages in a row from a device lacked a key a binding reads."""
    bad_payload_log_interval: float = 10.0
    """Log bad payloads of one topic at most once per this many seconds (all are counted)."""
    shutdown_timeout: float = 2.0
    """How long a clean shutdown waits for the broker to acknowledge ``offline``."""

    def __post_init__(self) -> None:
        self.endpoint()
        if self.protocol not in ("3.1.1", "5"):
            raise DriverError(f"MQTT protocol must be '3.1.1' or '5', got {self.protocol!r}")
        if self.keepalive < 1:
            raise DriverError(f"MQTT keepalive must be at least 1 s, got {self.keepalive}")
        if not 0 < self.reconnect_min <= self.reconnect_max:
            raise DriverError(
                "MQTT reconnect backoff needs 0 < reconnect_min <= reconnect_max, got "
                f"{self.reconnect_min} and {self.reconnect_max}"
            )
        if self.subscribe_qos not in (0, 1, 2):
            raise DriverError(f"MQTT subscribe_qos must be 0, 1 or 2, got {self.subscribe_qos}")

    def endpoint(self) -> BrokerAddress:
        """Host, port and credentials from `url` (credentials in the settings win)."""
        try:
            address = parse_broker_url(self.url)
        except ValueError as exc:
            raise DriverError(f"MQTT {exc}") from exc
        return BrokerAddress(
            address.host,
            address.port,
            self.username or address.username,
            self.password or address.password,
        )
