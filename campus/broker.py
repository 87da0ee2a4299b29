"""Where an MQTT broker is: ``mqtt://[user[:password]@]host[:port]``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:
        """The URL without credentials, safe to log."""
        return f"mqtt://{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://[user:password@]host[:port]`` (``tcp://`` or a bare ``host:port`` too).

    Raises ValueError naming the URL and what is wrong with it.
    """
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp"):
        tls = " (TLS is not supported yet)" if parts.scheme in ("mqtts", "ssl") else ""
        raise ValueError(f"broker URL {url!r}: expected mqtt://host:port{tls}")
    try:
        port = parts.port or 1883
    except ValueError as exc:
        raise ValueError(f"broker URL {url!r}: {exc}") from exc
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} names no host; write mqtt://127.0.0.1:1883")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return BrokerAddress(parts.hostname, port, username, password)
