"""Where an MQTT broker is: ``mqtt[s]://[user[:password]@]host[:port][?ca=FILE&...]``.

``mqtts://`` (or ``ssl://``) is MQTT over TLS, port 8883 by default. The query names the files a
TLS client needs, so every client (controller, simulator, TUI, CLI) takes them from one URL:
``ca`` (the CA that signed the broker's certificate; default: the system's CAs), ``cert`` and
``key`` (a client certificate, for brokers that require one) and ``password_file`` (keeps the
password off the command line; docs/security.md). The password itself is best kept out of the
URL: campus.secrets fills it in from ``password_file`` or the environment.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, unquote, urlsplit

TLS_SCHEMES = ("mqtts", "ssl")
QUERY_KEYS = ("ca", "cert", "key", "password_file")
"""The URL's query options: ca_file, cert_file, key_file, password_file of BrokerAddress."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None
    """PEM file of the CA that signed the broker's certificate (None: the system's CAs)."""
    cert_file: str | None = None
    """PEM client certificate, for brokers that ask for one (with `key_file`)."""
    key_file: str | None = None
    password_file: str | None = None
    """A file holding the password (campus.secrets reads it; never the password itself)."""

    def __str__(self) -> str:
        """The URL without credentials or files, safe to log."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for this broker (None for plain ``mqtt://``): the server's certificate
        is verified against `ca_file` and its name must match `host`.

        Raises ValueError naming the file that cannot be used.
        """
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"broker CA file {self.ca_file}: {exc}") from exc
        if self.cert_file is not None:
            try:
                context.load_cert_chain(self.cert_file, self.key_file)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(
                    f"broker client certificate {self.cert_file} (key {self.key_file}): {exc}"
                ) from exc
        return context


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt[s]://[user:password@]host[:port][?ca=...]`` (``tcp://``, ``ssl://`` or a bare
    ``host:port`` too); no path (``mqtt://host:1883/foo`` would silently drop ``/foo``).

    Raises ValueError naming the URL and what is wrong with it.
    """
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp", *TLS_SCHEMES):
        raise ValueError(f"broker URL {url!r}: expected mqtt://host:port or mqtts://host:port")
    tls = parts.scheme in TLS_SCHEMES
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ValueError(f"broker URL {url!r}: {exc}") from exc
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} names no host; write mqtt://127.0.0.1:1883")
    if parts.path not in ("", "/"):
        raise ValueError(
            f"broker URL {url!r} has a path ({parts.path}), which MQTT has no use for: "
            f"drop it (mqtt://{parts.hostname}:{port}); topics are set in campus.yaml"
        )
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    address = BrokerAddress(parts.hostname, port, username, password, tls)
    return _with_query(address, url, parts.query)


def _with_query(address: BrokerAddress, url: str, query: str) -> BrokerAddress:
    files: dict[str, str] = {}
    for key, values in parse_qs(query, keep_blank_values=True, strict_parsing=False).items():
        if key not in QUERY_KEYS:
            known = ", ".join(QUERY_KEYS)
            raise ValueError(f"broker URL {url!r}: unknown option {key!r} (known: {known})")
        if len(values) != 1 or not values[0]:
            raise ValueError(f"broker URL {url!r}: give {key}=FILE once")
        files[key] = values[0]
    if not address.tls and files.keys() & {"ca", "cert", "key"}:
        raise ValueError(f"broker URL {url!r}: ca, cert and key are for mqtts:// (TLS) only")
    if "key" in files and "cert" not in files:
        raise ValueError(f"broker URL {url!r}: key= needs cert= (the client certificate)")
    return replace(
        address,
        ca_file=files.get("ca"),
        cert_file=files.get("cert"),
        key_file=files.get("key"),
        password_file=files.get("password_file"),
    )
