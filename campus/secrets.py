"""Secrets: the MQTT password, the Home Assistant token, the InfluxDB token.

They come from the environment or from files that only the service account may read, never from
campus.yaml or the command line (both end up in shells' histories, `ps` and backups). Values read
here are returned to the one caller that needs them and never logged; messages name the file or
the variable, not the value. A secret file that other users may read works, but is warned about
(`exposure`, `warn_exposed`): `campusctl run` checks every secret file it is configured with.

Who reads what (docs/security.md has the table for operators):

- MQTT password: ``password_file=`` in the broker URL, else ``$CAMPUSCTL_MQTT_PASSWORD_FILE``,
  else ``$CAMPUSCTL_MQTT_PASSWORD`` (`broker_credentials`).
- Home Assistant token: campus.yaml ``homeassistant.token_file`` or ``token_env``.
- InfluxDB token: ``--influx-token-file``, ``$INFLUX_TOKEN`` or ``history.token_file``.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from campus.brokerurl import BrokerAddress
from campus.model import Campus
from campus.problems import CampusError

log = logging.getLogger("campusctl.secrets")

MQTT_PASSWORD_ENV = "CAMPUSCTL_MQTT_PASSWORD"
MQTT_PASSWORD_FILE_ENV = "CAMPUSCTL_MQTT_PASSWORD_FILE"
INFLUX_TOKEN_ENV = "INFLUX_TOKEN"
MAX_SECRET_BYTES = 64 * 1024
"""A secret is a line of text; a bigger file is the wrong file."""


_warned: set[Path] = set()


class SecretError(CampusError):
    """A secret that cannot be read; the message names where it was looked for, never a value."""


def exposure(path: Path) -> str | None:
    """Why `path` is too open for a secret (readable or writable by every user), or None."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        return (
            f"{path} is readable by every user on this machine (mode {stat.filemode(mode)}): "
            f"restrict it with chmod 600 {path} (or 640 with a group for the service)"
        )
    return None


def read_secret_file(path: str | Path, what: str) -> str:
    """The stripped content of a secret file; warns (once per file) when it is too open.

    `what` says which secret it is (``the MQTT password``), for messages. Raises SecretError
    for a missing, unreadable, empty or oversized file.
    """
    file = Path(path).expanduser()
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise SecretError(
            f"cannot read {what} from {file}: {exc.strerror}; create the file readable by "
            "the controller's user only (chmod 600)"
        ) from exc
    if len(data) > MAX_SECRET_BYTES:
        raise SecretError(f"{file} holds more than {MAX_SECRET_BYTES} bytes: is it {what}?")
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise SecretError(f"{file} is not UTF-8 text: is it {what}?") from exc
    if not text:
        raise SecretError(f"{file} is empty: write {what} into it")
    warning = exposure(file)
    if warning is not None and file not in _warned:
        _warned.add(file)
        log.warning("%s holds %s, but %s", file, what, warning)
    return text


def broker_credentials(
    address: BrokerAddress, env: Mapping[str, str] | None = None
) -> BrokerAddress:
    """`address` with its password filled in from where secrets live, if it has a user and
    no password yet: ``password_file`` (URL), ``$CAMPUSCTL_MQTT_PASSWORD_FILE``, then
    ``$CAMPUSCTL_MQTT_PASSWORD``. A password already in the URL is kept (with a warning
    elsewhere: docs/security.md). Raises SecretError for a password file that cannot be read.
    """
    if address.username is None or address.password is not None:
        return address
    env = os.environ if env is None else env
    file = address.password_file or env.get(MQTT_PASSWORD_FILE_ENV)
    if file:
        password = read_secret_file(file, f"the MQTT password of {address.username!r}")
        return replace(address, password=password, password_file=file)
    from_env = env.get(MQTT_PASSWORD_ENV)
    if from_env:
        return replace(address, password=from_env.strip())
    return address


def secret_files(
    campus: Campus,
    broker: BrokerAddress,
    influx_token_file: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Every secret file a controller for `campus` on `broker` is configured to read, by what
    it holds (for `warn_exposed`)."""
    env = os.environ if env is None else env
    files: dict[str, Path] = {}
    mqtt_file = broker.password_file or env.get(MQTT_PASSWORD_FILE_ENV)
    if broker.username is not None and mqtt_file:
        files["the MQTT password"] = Path(mqtt_file).expanduser()
    if broker.key_file is not None:
        files["the MQTT client key"] = Path(broker.key_file).expanduser()
    if campus.homeassistant is not None and campus.homeassistant.token_file:
        files["the Home Assistant token"] = Path(campus.homeassistant.token_file)
    if influx_token_file is not None:
        files["the InfluxDB token"] = influx_token_file
    elif campus.history is not None and campus.history.token_file and not env.get(INFLUX_TOKEN_ENV):
        token = Path(campus.history.token_file).expanduser()
        base = Path(campus.source).parent if campus.source else Path.cwd()
        files["the InfluxDB token"] = token if token.is_absolute() else base / token
    return files


def warn_exposed(files: Mapping[str, Path] | Iterable[tuple[str, Path]]) -> list[str]:
    """Log a warning for each secret file other users may read; return the warnings."""
    items = files.items() if isinstance(files, Mapping) else files
    warnings = []
    for what, path in items:
        why = exposure(path)
        if why is not None:
            warnings.append(f"{what}: {why}")
            log.warning("secret file for %s: %s", what, why)
    return warnings
