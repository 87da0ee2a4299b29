"""How the MQTT driver reaches its broker and how it behaves on a bad network."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from campus.brokerurl import BrokerAddress, parse_broker_url
from campus.mqttclient import MqttProtocol
from campus.problems import DriverError
from campus.secrets import SecretError, broker_credentials

FAST_PATH_ENV = "CAMPUSCTL_MQTT_FAST_PATH"
"""``0`` makes paho's public API the default (`MqttSettings.fast_path`): a whole test run, say."""


def fast_path_default() -> bool:
    """`MqttSettings.fast_path` when not given: on, unless ``CAMPUSCTL_MQTT_FAST_PATH=0``."""
    return os.environ.get(FAST_PATH_ENV, "1").strip() != "0"


READ_LINGER_ENV = "CAMPUSCTL_MQTT_READ_LINGER"
"""Seconds (``0``: never) for `MqttSettings.read_linger` when not given."""
READ_LINGER = 0.001
"""`MqttSettings.read_linger`'s default: the event loop's timer granularity with epoll, so no
shorter wait is possible, and no longer one is needed for batches of tens of messages."""


def read_linger_default() -> float:
    """`MqttSettings.read_linger` when not given: ``CAMPUSCTL_MQTT_READ_LINGER`` or 1 ms."""
    text = os.environ.get(READ_LINGER_ENV, "").strip()
    if not text:
        return READ_LINGER
    try:
        return float(text)
    except ValueError:
        raise DriverError(
            f"{READ_LINGER_ENV}={text!r}: expected seconds, a number (0: never linger)"
        ) from None


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Driver settings; only `url` usually needs changing.

    `protocol` defaults to 3.1.1: nothing the driver does needs MQTT 5, and 3.1.1 is what every
    broker speaks, the demo's embedded amqtt (3.1.1 only) included. Choose "5" explicitly for a
    v5-only deployment; there is no silent fallback, which would hide a misconfigured broker.
    Times are wall-clock seconds (network timing, not simulated time).

    `fast_path` (on unless ``CAMPUSCTL_MQTT_FAST_PATH=0``): on a plain-TCP connection, read,
    acknowledge and write packets past paho's per-packet machinery, through paho's private API
    (drivers/mqtt/paho_internals.py, checked at each connect; any surprise falls back for good,
    with one error logged). Off: paho's public API only (``loop_read``/``loop_write``/
    ``loop_misc``, ``publish``), as aiomqtt drives it; the same behaviour, more CPU per message.
    """

    url: str = "mqtt://127.0.0.1:1883"
    """``mqtt://[user@]host[:port]``, port 1883 by default; ``mqtts://`` for TLS (port 8883),
    with ``?ca=FILE&cert=FILE&key=FILE&password_file=FILE`` as needed (campus.brokerurl)."""
    client_id: str = ""
    """Empty: ``campusctl-<site>-<random>`` (unique, so two instances never kick each other)."""
    status_topic: str = ""
    """Empty: ``campusctl/<site>/status``; retained ``online``, ``offline`` as last will."""
    username: str | None = None
    """Overrides the user in the URL."""
    password: str | None = field(default=None, repr=False)
    """Best left None: campus.secrets reads it from a file or the environment."""
    ca_file: str | None = None
    """TLS: overrides the URL's ``ca=`` (the CA that signed the broker's certificate)."""
    cert_file: str | None = None
    """TLS: overrides the URL's ``cert=`` (a client certificate)."""
    key_file: str | None = None
    """TLS: overrides the URL's ``key=`` (the client certificate's key)."""
    protocol: MqttProtocol = "3.1.1"
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
    fast_path: bool = field(default_factory=fast_path_default)
    """Use the fast path where it applies (above); False: paho's public API only."""
    read_linger: float = field(default_factory=read_linger_default)
    """Seconds the connection waits before reading again while messages come fast and few at
    a time, to read them in one batch (drivers/mqtt/readpacing.py); 0: always read at once."""

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
        if not 0.0 <= self.read_linger <= 1.0:
            raise DriverError(
                f"MQTT read_linger must be 0 to 1 s, got {self.read_linger} (when not given: "
                f"{READ_LINGER_ENV}, else {READ_LINGER})"
            )

    def endpoint(self) -> BrokerAddress:
        """Host, port, TLS files and credentials from `url` (the settings' own win); the
        password, when not given, from campus.secrets (a file or the environment)."""
        try:
            address = parse_broker_url(self.url)
        except ValueError as exc:
            raise DriverError(f"MQTT {exc}") from exc
        if not address.tls and (self.ca_file or self.cert_file or self.key_file):
            raise DriverError(f"MQTT TLS files are set, but {self.url!r} is not mqtts://")
        address = replace(
            address,
            username=self.username or address.username,
            password=self.password or address.password,
            ca_file=self.ca_file or address.ca_file,
            cert_file=self.cert_file or address.cert_file,
            key_file=self.key_file or address.key_file,
        )
        try:
            return broker_credentials(address)
        except SecretError as exc:
            raise DriverError(f"MQTT: {exc}") from exc
