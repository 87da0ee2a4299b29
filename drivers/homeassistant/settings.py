"""How the Home Assistant driver reaches Home Assistant, and where its token comes from.

The token is read each time the driver connects (so a rotated token file is picked up on the
next reconnect) and is never stored on the settings, printed or logged: only where it comes from
(`token_source`) appears in messages.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from campus.model import HomeAssistantSite
from campus.problems import DriverError

HA_DOCS = "docs/homeassistant.md"


@dataclass(frozen=True, slots=True)
class HaSettings:
    """Driver settings; `url` and one token source usually suffice.

    Times are wall-clock seconds (network timing, not simulated time).
    """

    url: str
    """``http(s)://host:8123``, or the websocket URL ``ws(s)://host:8123/api/websocket``."""
    token_env: str | None = None
    """The environment variable that holds the long-lived access token."""
    token_file: str | None = None
    """A file whose content (stripped) is the token."""
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    connect_timeout: float = 10.0
    """How long connecting and authenticating may take before the attempt counts as failed."""
    max_failures_kept: int = 100
    """How many failed service calls `HomeAssistantDriver.failures` keeps (newest last)."""

    def __post_init__(self) -> None:
        self.websocket_url()
        if (self.token_env is None) == (self.token_file is None):
            raise DriverError(
                "Home Assistant settings need exactly one of token_env and token_file"
            )
        if not 0 < self.reconnect_min <= self.reconnect_max:
            raise DriverError(
                "Home Assistant reconnect backoff needs 0 < reconnect_min <= reconnect_max, got "
                f"{self.reconnect_min} and {self.reconnect_max}"
            )

    @classmethod
    def from_site(cls, site: HomeAssistantSite) -> HaSettings:
        """The settings campus.yaml's ``homeassistant:`` section gives."""
        return cls(url=site.url, token_env=site.token_env, token_file=site.token_file)

    def websocket_url(self) -> str:
        """``http://h:8123`` -> ``ws://h:8123/api/websocket`` (https -> wss)."""
        match = re.fullmatch(r"(https?|wss?)://([^/]+)(/.*)?", self.url.strip())
        if match is None:
            raise DriverError(
                f"Home Assistant url {self.url!r} is not usable: write http://host:8123"
            )
        scheme, host, path = match.groups()
        scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
        path = (path or "").rstrip("/")
        if not path.endswith("/api/websocket"):
            path = f"{path.removesuffix('/api')}/api/websocket"
        return f"{scheme}://{host}{path}"

    @property
    def token_source(self) -> str:
        """Where the token is read, for messages (never the token itself)."""
        if self.token_file is not None:
            return f"the file {self.token_file}"
        return f"the environment variable {self.token_env}"

    def read_token(self) -> str:
        """The long-lived access token; DriverError saying what to do when there is none."""
        if self.token_file is not None:
            try:
                token = Path(self.token_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise DriverError(
                    f"cannot read the Home Assistant token from {self.token_source}: "
                    f"{exc.strerror}; create a long-lived token ({HA_DOCS}) and save it there"
                ) from exc
        else:
            assert self.token_env is not None
            token = os.environ.get(self.token_env, "").strip()
        if not token:
            raise DriverError(
                f"no Home Assistant token in {self.token_source}: create a long-lived token "
                f"in Home Assistant (your profile, Security tab; see {HA_DOCS}) and put it there"
            )
        return token
