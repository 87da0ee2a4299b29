"""Secrets from files and the environment (campus.secrets) and TLS broker URLs (campus.brokerurl):
where each comes from, what wins, and that no message or repr ever carries a value."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from campus.brokerurl import BrokerAddress, parse_broker_url
from campus.model import Campus, HomeAssistantSite, Site
from campus.secrets import (
    MQTT_PASSWORD_ENV,
    MQTT_PASSWORD_FILE_ENV,
    SecretError,
    broker_credentials,
    exposure,
    read_secret_file,
    secret_files,
    warn_exposed,
)
from drivers.mqtt.settings import MqttSettings


def private(folder: Path, name: str, text: str, mode: int = 0o600) -> Path:
    path = folder / name
    path.write_text(text)
    path.chmod(mode)
    return path


def test_tls_urls() -> None:
    address = parse_broker_url("mqtts://ctl@broker.example?ca=/etc/ca.pem&password_file=/p")
    assert address == BrokerAddress(
        "broker.example", 8883, "ctl", None, True, "/etc/ca.pem", password_file="/p"
    )
    assert str(address) == "mqtts://broker.example:8883"
    assert parse_broker_url("ssl://h:9999?cert=/c.pem&key=/k.pem").cert_file == "/c.pem"
    assert parse_broker_url("mqtt://h?password_file=/p").password_file == "/p"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mqtt://h?ca=/ca.pem", r"for mqtts:// \(TLS\) only"),
        ("mqtts://h?key=/k.pem", "key= needs cert="),
        ("mqtts://h?ca=", "give ca=FILE once"),
        ("mqtts://h?ca=/a&ca=/b", "give ca=FILE once"),
        ("mqtts://h?insecure=1", "unknown option 'insecure'"),
    ],
)
def test_bad_tls_urls(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_broker_url(url)


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    address = parse_broker_url(f"mqtts://h?ca={tmp_path / 'nope.pem'}")
    with pytest.raises(ValueError, match=r"broker CA file .*nope\.pem"):
        address.ssl_context()
    assert parse_broker_url("mqtt://h").ssl_context() is None


def test_password_from_a_file_then_the_environment(tmp_path: Path) -> None:
    file = private(tmp_path, "pw", "from-file\n")
    user = BrokerAddress("h", username="ctl")
    env = {MQTT_PASSWORD_FILE_ENV: str(file), MQTT_PASSWORD_ENV: "from-env"}
    assert broker_credentials(user, env).password == "from-file"
    assert broker_credentials(user, {MQTT_PASSWORD_ENV: "from-env"}).password == "from-env"
    url_file = BrokerAddress("h", username="ctl", password_file=str(file))
    assert broker_credentials(url_file, {MQTT_PASSWORD_ENV: "x"}).password == "from-file"
    given = BrokerAddress("h", username="ctl", password="given")
    assert broker_credentials(given, env).password == "given"
    assert broker_credentials(BrokerAddress("h"), env).password is None
    assert "from-file" not in repr(broker_credentials(user, env))


def test_the_driver_reads_the_password_file_and_hides_it(tmp_path: Path) -> None:
    file = private(tmp_path, "pw", "s3cret")
    settings = MqttSettings(url=f"mqtts://ctl@h?password_file={file}")
    assert settings.endpoint().password == "s3cret"
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in repr(settings.endpoint())
    assert "s3cret" not in repr(MqttSettings(url="mqtt://h", username="u", password="s3cret"))


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "cannot read the MQTT password"), ("  \n", "is empty"), ("x" * 70_000, "more than")],
)
def test_unusable_secret_files(tmp_path: Path, content: str | None, says: str) -> None:
    path = tmp_path / "secret"
    if content is not None:
        private(tmp_path, "secret", content)
    with pytest.raises(SecretError, match=says) as info:
        read_secret_file(path, "the MQTT password")
    assert str(path) in str(info.value)


def test_world_readable_files_are_warned_about_without_their_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    open_file = private(tmp_path, "open", "TOPSECRET", 0o644)
    closed = private(tmp_path, "closed", "TOPSECRET", 0o640)
    assert exposure(closed) is None
    assert exposure(tmp_path / "missing") is None
    why = exposure(open_file)
    assert why is not None
    assert "chmod 600" in why
    caplog.set_level(logging.WARNING, logger="campusctl.secrets")
    assert read_secret_file(open_file, "the token") == "TOPSECRET"
    assert "readable by every user" in caplog.text
    warnings = warn_exposed({"the token": open_file, "the key": closed})
    assert len(warnings) == 1
    assert warnings[0].startswith("the token: ")
    assert "TOPSECRET" not in caplog.text


def test_every_configured_secret_file_is_checked(tmp_path: Path) -> None:
    campus = Campus(
        Site("s", "S", "UTC"),
        (),
        source=str(tmp_path / "campus.yaml"),
        homeassistant=HomeAssistantSite("http://ha", None, str(tmp_path / "ha.token")),
    )
    broker = BrokerAddress("h", username="ctl", password_file="/etc/pw", key_file="/etc/k.pem")
    files = secret_files(campus, broker, tmp_path / "influx.token", env={})
    assert files == {
        "the MQTT password": Path("/etc/pw"),
        "the MQTT client key": Path("/etc/k.pem"),
        "the Home Assistant token": tmp_path / "ha.token",
        "the InfluxDB token": tmp_path / "influx.token",
    }
