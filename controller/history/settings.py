"""What the historian needs to know, merged from the command line, campus.yaml and the environment.

Precedence, most specific first: ``--influx-*`` options, then the campus file's `history:`
section, then defaults. The token comes from ``--influx-token-file``, else ``INFLUX_TOKEN``,
else the section's ``token_file``; it is never logged (``repr`` hides it). Following InfluxDB's
own 1.x compatibility convention, API v1 reads the database (and optional retention policy) from
the bucket as ``db`` or ``db/rp`` and the credentials from the token as ``user:password``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from campus.history import HistorySection
from campus.problems import CampusError

DEFAULT_HEARTBEAT = 300.0
DEFAULT_SPOOL_MB = 1024.0


@dataclass(frozen=True)
class HistoryOptions:
    """The ``--influx-*`` command-line values; None means "not given"."""

    url: str | None = None
    org: str | None = None
    bucket: str | None = None
    api_version: int | None = None
    token_file: Path | None = None
    ca_cert: Path | None = None
    insecure: bool = False
    heartbeat: float | None = None
    deadband: Mapping[str, float] = field(default_factory=dict)
    spool: Path | None = None
    spool_max_mb: float | None = None


@dataclass(frozen=True)
class HistorySettings:
    """A complete, checked configuration of the historian."""

    url: str
    bucket: str
    spool: Path
    org: str = ""
    api_version: int = 2
    token: str = field(default="", repr=False)
    ca_cert: str | None = None
    verify_tls: bool = True
    heartbeat: float = DEFAULT_HEARTBEAT
    """Seconds (campus clock) after which an unchanged value is written again."""
    deadband: Mapping[str, float] = field(default_factory=dict)
    """Per quantity (point or actuator name): changes smaller than this are not written."""
    spool_max_bytes: int = int(DEFAULT_SPOOL_MB * 1024 * 1024)
    batch_size: int = 5000
    """Points per write request."""
    flush_interval: float = 1.0
    """Wall-clock seconds between writes (sooner when a batch fills up)."""
    timeout: float = 10.0
    """Wall-clock seconds a write may take before InfluxDB counts as unreachable."""
    retry_max: float = 30.0
    """Longest wall-clock wait between two attempts while InfluxDB is unreachable."""

    @property
    def database(self) -> str:
        """API v1: the database part of the bucket (``db/rp`` -> ``db``)."""
        return self.bucket.partition("/")[0]

    @property
    def retention_policy(self) -> str:
        """API v1: the retention policy part of the bucket, or "" for the database's default."""
        return self.bucket.partition("/")[2]

    @property
    def credentials(self) -> tuple[str, str] | None:
        """API v1: ``(user, password)`` from a ``user:password`` token, or None."""
        if not self.token:
            return None
        user, _, password = self.token.partition(":")
        return user, password


def resolve_settings(
    options: HistoryOptions,
    section: HistorySection | None,
    site: str,
    *,
    base: Path | None = None,
    state_dir: Path = Path("var"),
    env: Mapping[str, str] | None = None,
) -> HistorySettings | None:
    """The historian's settings, or None when no InfluxDB URL is configured (history off).

    Relative paths in the section are read from `base` (campus.yaml's folder); the spool goes to
    `state_dir` unless configured. Raises CampusError naming the option or key that is wrong
    and how to fix it.
    """
    base = base or Path.cwd()
    env = os.environ if env is None else env
    where = f"{section.pos}: history" if section is not None and section.pos else "history"
    url = options.url or (section.url if section else None)
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CampusError(
            f"InfluxDB URL {url!r} (--influx-url or {where}.url) must look like "
            "http://host:8086 or https://host:8086"
        )
    try:
        bad = "port 0" if parts.port == 0 else ""
    except ValueError as exc:  # not a number, or out of range: found here, not at the first write
        bad = str(exc)
    if bad:
        raise CampusError(
            f"InfluxDB URL {url!r} (--influx-url or {where}.url) has a bad port ({bad}): give "
            "a port from 1 to 65535, like http://host:8086 (or none: 80 for http, 443 for https)"
        )
    api_version = options.api_version or (section.api_version if section else 2)
    if api_version not in (1, 2):
        raise CampusError(
            f"InfluxDB API version {api_version} (--influx-api-version or {where}.api_version) "
            "must be 1 (InfluxDB 1.x /write) or 2 (InfluxDB 2.x/3.x /api/v2/write)"
        )
    bucket = options.bucket or (section.bucket if section else "campus")
    if not bucket or bucket.startswith("/"):
        raise CampusError(
            f"InfluxDB bucket {bucket!r} (--influx-bucket or {where}.bucket) is empty: "
            "name the bucket (API v1: the database, optionally database/retention-policy)"
        )
    heartbeat = _first(options.heartbeat, section.heartbeat if section else None)
    heartbeat = DEFAULT_HEARTBEAT if heartbeat is None else heartbeat
    if heartbeat <= 0:
        raise CampusError(f"the history heartbeat must be positive, got {heartbeat:g} s")
    deadband = {**(section.deadband if section else {}), **options.deadband}
    for name, delta in deadband.items():
        if delta < 0:
            raise CampusError(f"the history deadband of {name!r} cannot be negative ({delta:g})")
    spool_mb = _first(options.spool_max_mb, section.spool_max_mb if section else None)
    spool_mb = DEFAULT_SPOOL_MB if spool_mb is None else spool_mb
    if spool_mb <= 0:
        raise CampusError(f"the history spool cap must be positive, got {spool_mb:g} MB")
    spool = options.spool or (_path(section.spool, base) if section else None)
    ca_cert = options.ca_cert or (_path(section.ca_cert, base) if section else None)
    if ca_cert is not None and not ca_cert.is_file():
        raise CampusError(f"InfluxDB CA certificate {ca_cert} does not exist or is not a file")
    return HistorySettings(
        url=url.rstrip("/"),
        bucket=bucket,
        org=options.org or (section.org if section else ""),
        api_version=api_version,
        token=_token(options, _path(section.token_file, base) if section else None, env),
        ca_cert=None if ca_cert is None else str(ca_cert),
        verify_tls=not options.insecure and (section.verify_tls if section else True),
        heartbeat=heartbeat,
        deadband=deadband,
        spool=spool or default_spool(site, state_dir),
        spool_max_bytes=int(spool_mb * 1024 * 1024),
    )


def default_spool(site: str, state_dir: Path) -> Path:
    """The spool beside the controller's state file (``var/`` unless --state says otherwise)."""
    return state_dir / f"history-spool-{site}.sqlite"


def _token(options: HistoryOptions, token_file: Path | None, env: Mapping[str, str]) -> str:
    if options.token_file is not None:
        return _read_token(options.token_file, "--influx-token-file")
    if env.get("INFLUX_TOKEN"):
        return env["INFLUX_TOKEN"].strip()
    if token_file is not None:
        return _read_token(token_file, "history.token_file in campus.yaml")
    return ""


def _path(text: str | None, base: Path) -> Path | None:
    if not text:
        return None
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def _read_token(path: Path, option: str) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise CampusError(
            f"cannot read the InfluxDB token from {path} ({option}): {exc.strerror}; "
            "create it readable by the controller, or set INFLUX_TOKEN"
        ) from exc


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)
