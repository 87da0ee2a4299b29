"""The optional `history:` section of campus.yaml: where the controller records to InfluxDB.

Kept in the campus file so that one file describes a deployment; the command line's
``--influx-*`` options override each key. The token is never written here, only the file
that holds it (``token_file``) or the ``INFLUX_TOKEN`` environment variable. docs/influxdb.md
describes every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from campus.problems import Position
from campus.yamlmodel import Duration


@dataclass(frozen=True)
class HistorySection:
    """Record readings, commands, rule transitions and alarms to InfluxDB."""

    url: str = field(metadata={"doc": "InfluxDB base URL, e.g. http://127.0.0.1:8086"})
    bucket: str = field(
        default="campus",
        metadata={"doc": "v2 bucket; API v1: database, or database/retention-policy"},
    )
    org: str = field(default="", metadata={"doc": "v2 organisation (InfluxDB 2.x needs it)"})
    api_version: int = field(
        default=2, metadata={"doc": "2: /api/v2/write (InfluxDB 2.x/3.x); 1: /write (1.x)"}
    )
    token_file: str | None = field(
        default=None,
        metadata={"doc": "file holding the token (API v1: user:password); or env INFLUX_TOKEN"},
    )
    ca_cert: str | None = field(
        default=None, metadata={"doc": "PEM file of the CA that signed the server's certificate"}
    )
    verify_tls: bool = field(default=True, metadata={"doc": "false: accept any certificate"})
    heartbeat: Duration = field(
        default=Duration(300),
        metadata={"doc": "rewrite an unchanged value this often so flat signals show"},
    )
    deadband: dict[str, float] = field(
        default_factory=dict,
        metadata={"doc": "per quantity: changes smaller than this are not written (co2: 10)"},
    )
    spool: str | None = field(
        default=None,
        metadata={"doc": "SQLite file for points while InfluxDB is down (default: state dir)"},
    )
    spool_max_mb: float = field(
        default=1024.0, metadata={"doc": "spool cap; past it the oldest points are dropped"}
    )
    pos: Position | None = None
