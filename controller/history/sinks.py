"""Where line protocol goes: InfluxDB's v2 write API through influxdb-client, or the v1 `/write`.

Both take the same lines (influxdb-client's Point serialisation, microsecond times) and report
the outcome the writer acts on: nothing (written), `Unavailable` (keep the points and retry:
the server is down, slow, overloaded, 5xx, or refuses us as a whole with 401/403/404, which a
person must fix but which is no reason to lose the points), or `Rejected` (the server refused
this request's content with another 4xx: the writer splits the batch to find the bad points).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlencode

import urllib3
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from controller.history.schema import PRECISION
from controller.history.settings import HistorySettings


class WriteError(Exception):
    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"HTTP {status}: {message}" if status else message)


class Unavailable(WriteError):
    """Nothing was written; try the same points again later."""

    @property
    def needs_a_person(self) -> bool:
        """The server answers but refuses us as a whole (credentials, URL, bucket, API)."""
        return self.status in (401, 403, 404)


class Rejected(WriteError):
    """The server refused (part of) this request's points; retrying them as they are is futile."""


class Sink(Protocol):
    description: str
    """``InfluxDB API v2 at https://host:8086, bucket campus`` (for logs)."""

    def write(self, lines: Sequence[bytes]) -> None:
        """Write `lines` or raise `Unavailable` or `Rejected`."""
        ...

    def close(self) -> None: ...


def make_sink(settings: HistorySettings) -> Sink:
    return V1Sink(settings) if settings.api_version == 1 else V2Sink(settings)


class V2Sink:
    """InfluxDB 2.x/3.x (and compatible servers) through influxdb-client's write API."""

    def __init__(self, settings: HistorySettings) -> None:
        self.settings = settings
        self.description = f"InfluxDB API v2 at {settings.url}, bucket {settings.bucket}"
        self._client: Any = InfluxDBClient(
            url=settings.url,
            token=settings.token,
            org=settings.org or "-",
            timeout=int(settings.timeout * 1000),
            verify_ssl=settings.verify_tls,
            ssl_ca_cert=settings.ca_cert,
        )
        self._api: Any = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: Sequence[bytes]) -> None:
        try:
            self._api.write(
                bucket=self.settings.bucket,
                org=self.settings.org or "-",
                record=b"\n".join(lines),
                write_precision=PRECISION,
            )
        except ApiException as exc:
            if not exc.status:  # influxdb-client's wrapping of TLS and connection failures
                raise Unavailable(None, " ".join(str(exc.reason).split())) from exc
            raise classify(exc.status, exc.message or str(exc.reason)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unavailable(None, _network_reason(exc)) from exc

    def close(self) -> None:
        self._api.close()
        self._client.close()


class V1Sink:
    """InfluxDB 1.x: the same lines posted to ``/write?db=..&rp=..&precision=u``."""

    def __init__(self, settings: HistorySettings) -> None:
        self.settings = settings
        self.description = f"InfluxDB API v1 at {settings.url}, database {settings.database}"
        query = {"db": settings.database, "precision": "u"}
        if settings.retention_policy:
            query["rp"] = settings.retention_policy
        self._url = f"{settings.url}/write?{urlencode(query)}"
        self._headers = {"Content-Type": "text/plain; charset=utf-8"}
        credentials = settings.credentials
        if credentials is not None:
            basic = f"{credentials[0]}:{credentials[1]}"
            self._headers.update(urllib3.make_headers(basic_auth=basic))
        self._pool = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED" if settings.verify_tls else "CERT_NONE",
            ca_certs=settings.ca_cert,
            timeout=urllib3.Timeout(connect=settings.timeout, read=settings.timeout),
            retries=False,
        )

    def write(self, lines: Sequence[bytes]) -> None:
        try:
            response = self._pool.request(
                "POST", self._url, body=b"\n".join(lines), headers=self._headers, redirect=False
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unavailable(None, _network_reason(exc)) from exc
        if response.status >= 300:
            raise classify(response.status, _v1_message(response.data))

    def close(self) -> None:
        self._pool.clear()


def classify(status: int, message: str) -> WriteError:
    """The writer's view of an HTTP error status."""
    if status in (401, 403):
        return Unavailable(status, f"{message}: check the token (INFLUX_TOKEN, token file)")
    if status == 404:
        return Unavailable(
            status,
            f"{message}: check the URL, --influx-api-version (1 for InfluxDB 1.x), and that the "
            "bucket (API v1: database) and org exist",
        )
    if status in (408, 429) or status >= 500 or status < 400:
        return Unavailable(status, message)
    return Rejected(status, message)


def _v1_message(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace").strip() or "no message"


def _network_reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc) or type(exc).__name__
