"""Real time-series servers for the history tests, on loopback with temporary data folders.

- `VictoriaMetrics` (Debian ``victoria-metrics``): takes InfluxDB line protocol on
  ``/api/v2/write``, so influxdb-client's write API is tested against it; read back through
  ``/api/v1/export`` (series ``<measurement>_<field>``, tags as labels, string fields dropped).
- `InfluxV1` (Debian ``influxdb``, 1.6.7): v1 ``/write`` and InfluxQL ``/query``, with
  authentication on and an admin user, so ``user:password`` tokens are exercised.

Both can be stopped and started again on the same port and data (outage tests), frozen with
SIGSTOP (a server that accepts connections and never answers), and serve HTTPS with a test
CA's certificate (`Tls`).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from controller.broker import free_port
from controller.children import stop_child

START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Tls:
    """PEM files: the CA that signed the server's certificate, the certificate, its key."""

    ca: Path
    cert: Path
    key: Path


def make_tls(folder: Path) -> Tls:
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "campusctl history test CA")])

    def certificate(subject: x509.Name, public: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
            builder = builder.add_extension(x509.SubjectAlternativeName([address]), False)
        return builder.sign(ca_key, hashes.SHA256())

    server = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    tls = Tls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    pem = serialization.Encoding.PEM
    tls.ca.write_bytes(certificate(ca_name, ca_key.public_key(), True).public_bytes(pem))
    tls.cert.write_bytes(certificate(server, key.public_key(), False).public_bytes(pem))
    tls.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return tls


class Server:
    """A server process we start, stop, freeze and thaw; its output goes to `log`."""

    binary_names: tuple[str, ...] = ()
    debian_package = ""

    def __init__(self, workdir: Path, port: int | None = None, tls: Tls | None = None) -> None:
        self.workdir = workdir
        self.tls = tls
        self.port = port or free_port()
        self.log = workdir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def binary(self) -> str:
        for name in self.binary_names:
            found = shutil.which(name) or next(
                (str(p) for d in ("/usr/bin", "/usr/sbin") if (p := Path(d) / name).exists()),
                None,
            )
            if found:
                return found
        raise RuntimeError(
            f"{self.binary_names[0]} is not installed: apt-get install {self.debian_package} "
            "(.ci/setup does it)"
        )

    def start(self) -> None:
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ready():
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.binary_names[0]} stopped at start:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.binary_names[0]} did not start:\n{self.tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)
        stop_child(proc, 15)

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, nothing answers."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def http(
        self, method: str, path: str, body: bytes | None = None, auth: tuple[str, str] | None = None
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        context = None if self.tls is None else ssl.create_default_context(cafile=self.tls.ca)
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class VictoriaMetrics(Server):
    binary_names = ("victoria-metrics",)
    debian_package = "victoria-metrics"

    def command(self) -> list[str]:
        return [
            self.binary(),
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.workdir / 'data'}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=1s",
            "-loggerLevel=WARN",
            *([] if self.tls is None else
              ["-tls", f"-tlsCertFile={self.tls.cert}", f"-tlsKeyFile={self.tls.key}"]),
        ]  # fmt: skip

    def ready(self) -> bool:
        try:
            return self.http("GET", "/health")[0] == 200
        except OSError:
            return False

    def export(self, selector: str) -> list[dict[str, Any]]:
        """Every series matching `selector` (``{__name__=~"co2_.*"}``), as VictoriaMetrics
        exports them: ``{"metric": {...labels}, "values": [...], "timestamps": [ms...]}``."""
        self.http("GET", "/internal/force_flush")
        query = urllib.parse.urlencode({"match[]": selector, "start": "0"})
        status, body = self.http("GET", f"/api/v1/export?{query}")
        assert status == 200, body
        return [json.loads(line) for line in body.splitlines() if line.strip()]


class InfluxV1(Server):
    binary_names = ("influxd",)
    debian_package = "influxdb"
    user = "admin"
    password = "campus-test"

    def __init__(self, workdir: Path, port: int | None = None, tls: Tls | None = None) -> None:
        super().__init__(workdir, port, tls)
        self.rpc_port = free_port()
        self._users_made = False

    @property
    def token(self) -> str:
        """The v1 token convention: ``user:password``."""
        return f"{self.user}:{self.password}"

    def command(self) -> list[str]:
        conf = self.workdir / "influxdb.conf"
        data = self.workdir
        https = ""
        if self.tls is not None:
            https = (
                f'  https-enabled = true\n  https-certificate = "{self.tls.cert}"\n'
                f'  https-private-key = "{self.tls.key}"\n'
            )
        conf.write_text(
            f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{data / "meta"}"
[data]
  dir = "{data / "data"}"
  wal-dir = "{data / "wal"}"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = true
  log-enabled = false
{https}[continuous_queries]
  enabled = false
"""
        )
        return [self.binary(), "run", "-config", str(conf)]

    def ready(self) -> bool:
        try:
            return self.http("GET", "/ping")[0] == 204
        except OSError:
            return False

    def start(self) -> None:
        super().start()
        if not self._users_made:
            # With no user yet, InfluxDB 1.x lets anyone create the first admin.
            statement = (
                f"CREATE USER {self.user} WITH PASSWORD '{self.password}' WITH ALL PRIVILEGES"
            )
            self.query(statement, auth=False)
            self._users_made = True

    def query(
        self, q: str, db: str | None = None, *, auth: bool = True, epoch: str = "u"
    ) -> list[dict[str, Any]]:
        """Run InfluxQL; returns the statements' results (each with its ``series``)."""
        params = {"q": q, "epoch": epoch}
        if db is not None:
            params["db"] = db
        status, body = self.http(
            "POST",
            "/query",
            urllib.parse.urlencode(params).encode(),
            auth=(self.user, self.password) if auth else None,
        )
        answer = json.loads(body)
        if status != 200 or "error" in answer:
            raise AssertionError(f"{q}: HTTP {status} {answer}")
        results: list[dict[str, Any]] = answer["results"]
        for result in results:
            assert "error" not in result, f"{q}: {result['error']}"
        return results

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')

    def rows(self, q: str, db: str) -> list[dict[str, Any]]:
        """The rows of a one-statement query as dicts (tags of each series merged in)."""
        out: list[dict[str, Any]] = []
        for series in self.query(q, db)[0].get("series", []):
            tags = series.get("tags", {})
            for values in series["values"]:
                out.append({**tags, **dict(zip(series["columns"], values, strict=True))})
        return out
