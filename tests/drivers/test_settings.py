"""Settings: broker URL, credentials, and refusal of settings that cannot work."""

from __future__ import annotations

import pytest

from campus.brokerurl import BrokerAddress
from campus.problems import DriverError
from drivers.mqtt.settings import READ_LINGER, READ_LINGER_ENV, MqttSettings


def test_url_with_credentials() -> None:
    settings = MqttSettings(url="mqtt://ops:s%40cret@broker.campus.example:1884")
    assert settings.endpoint() == BrokerAddress("broker.campus.example", 1884, "ops", "s@cret")


def test_default_port_and_credentials_from_settings_win() -> None:
    settings = MqttSettings(url="mqtt://u:p@10.0.0.5", username="ctl", password="pw")
    assert settings.endpoint() == BrokerAddress("10.0.0.5", 1883, "ctl", "pw")


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"url": "http://broker:1883"}, "expected mqtt://host:port"),
        ({"url": "mqtt://broker", "ca_file": "/ca.pem"}, "is not mqtts://"),
        ({"url": "mqtts://broker?cert=/c.pem&bogus=1"}, "unknown option 'bogus'"),
        ({"url": "mqtt://broker:99999"}, "out of range"),
        ({"url": "mqtt://:1883"}, "names no host"),
        ({"url": "mqtt://broker:1883/foo"}, r"has a path \(/foo\).*drop it \(mqtt://broker:1883\)"),
        ({"protocol": "3.1"}, "'3.1.1' or '5'"),
        ({"keepalive": 0}, "keepalive"),
        ({"reconnect_min": 5.0, "reconnect_max": 1.0}, "reconnect_min <= reconnect_max"),
        ({"subscribe_qos": 3}, "subscribe_qos"),
        ({"read_linger": -0.001}, "read_linger must be 0 to 1 s"),
        ({"read_linger": 2.0}, "read_linger must be 0 to 1 s"),
    ],
)
def test_bad_settings_are_refused_with_what_to_fix(kwargs: dict[str, object], says: str) -> None:
    with pytest.raises(DriverError, match=says):
        MqttSettings(**kwargs)  # type: ignore[arg-type]


def test_read_linger_comes_from_the_environment_unless_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(READ_LINGER_ENV, raising=False)
    assert MqttSettings().read_linger == READ_LINGER
    monkeypatch.setenv(READ_LINGER_ENV, "0")
    assert MqttSettings().read_linger == 0.0
    assert MqttSettings(read_linger=0.002).read_linger == 0.002
    monkeypatch.setenv(READ_LINGER_ENV, "1ms")
    with pytest.raises(DriverError, match=r"CAMPUSCTL_MQTT_READ_LINGER='1ms': expected seconds"):
        MqttSettings()
    monkeypatch.setenv(READ_LINGER_ENV, "5")
    with pytest.raises(DriverError, match=r"read_linger must be 0 to 1 s, got 5.0"):
        MqttSettings()
