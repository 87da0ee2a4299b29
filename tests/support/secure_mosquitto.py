"""A Mosquitto that requires TLS, a password and obeys an ACL, as docs/security.md deploys it.

The certificate authority and the broker's certificate are generated for each run with the
`cryptography` package (a CA, and a server certificate for 127.0.0.1 and localhost signed by
it); the password file is hashed by Mosquitto's own `mosquitto_passwd`; the ACL is whatever the
test passes, normally the one published in docs/security.md (`documented_acl`), so that the
tests prove the documented file does what the page says.
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import ipaddress
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controller.broker import free_port, mosquitto_binary
from controller.children import stop_child

ROOT = Path(__file__).resolve().parents[2]
SECURITY_DOC = ROOT / "docs" / "security.md"

CONF = """\
listener {port} 127.0.0.1
cafile {ca}
certfile {cert}
keyfile {key}
require_certificate {require_certificate}
allow_anonymous false
password_file {passwords}
acl_file {acl}
persistence false
log_dest stdout
log_type error
log_type warning
log_type notice
max_queued_messages 1000000
max_inflight_messages 100
set_tcp_nodelay true
user {user}
"""
"""`user` is whoever runs the tests: run as root, Mosquitto would otherwise drop to the
`mosquitto` user, which cannot read the test's private temporary folder."""


@dataclass(frozen=True)
class Pki:
    """A throw-away certificate authority and what it signed (PEM files)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@dataclass(frozen=True)
class SecureBroker:
    host: str
    port: int
    pki: Pki
    passwords: Mapping[str, str]
    log: Path

    def url(self, user: str | None = None, *, ca: bool = True) -> str:
        """``mqtts://user@127.0.0.1:PORT?ca=...`` (no password: give it by file or env)."""
        who = f"{user}@" if user else ""
        query = f"?ca={self.pki.ca_cert}" if ca else ""
        return f"mqtts://{who}{self.host}:{self.port}{query}"

    def password_file(self, user: str, folder: Path) -> Path:
        """A file holding `user`'s password, readable by its owner only."""
        path = folder / f"{user}.password"
        path.write_text(self.passwords[user] + "\n")
        path.chmod(0o600)
        return path


def documented_acl() -> str:
    """The ACL block (```acl fence) of docs/security.md, verbatim."""
    text = SECURITY_DOC.read_text()
    found = re.search(r"```acl\n(.*?)```", text, re.DOTALL)
    if found is None:
        raise AssertionError(f"{SECURITY_DOC} has no ```acl block")
    return found.group(1)


def documented_district_acl() -> str:
    """The district broker's ACL block of docs/security.md (the one that begins with
    ``# campusctl district ACL``), verbatim."""
    text = SECURITY_DOC.read_text()
    for block in re.findall(r"```acl\n(.*?)```", text, re.DOTALL):
        if block.startswith("# campusctl district ACL"):
            return str(block)
    raise AssertionError(f"{SECURITY_DOC} has no ```acl block of the district broker")


def make_pki(folder: Path) -> Pki:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "campusctl test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = folder / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def leaf(name: str, usage: x509.ObjectIdentifier, server: bool) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if server:
            names: list[x509.GeneralName] = [
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.DNSName("localhost"),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        return cert_path, key_path

    server_cert, server_key = leaf("server", ExtendedKeyUsageOID.SERVER_AUTH, server=True)
    client_cert, client_key = leaf("client", ExtendedKeyUsageOID.CLIENT_AUTH, server=False)
    return Pki(ca_path, server_cert, server_key, client_cert, client_key)


def write_password_file(path: Path, passwords: Mapping[str, str]) -> None:
    """Mosquitto's hashed password file, made by `mosquitto_passwd -U` from plain lines."""
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    path.write_text("".join(f"{user}:{password}\n" for user, password in passwords.items()))
    path.chmod(0o600)
    subprocess.run([tool, "-U", str(path)], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def running_secure_mosquitto(
    workdir: Path,
    passwords: Mapping[str, str],
    acl: str,
    *,
    require_certificate: bool = False,
) -> Iterator[SecureBroker]:
    """Mosquitto on 127.0.0.1 with TLS only, no anonymous access, `passwords` and `acl`;
    `require_certificate`: clients must also present a certificate signed by the CA."""
    binary = mosquitto_binary()
    if binary is None:
        raise AssertionError("mosquitto is not installed (Debian: apt-get install mosquitto)")
    workdir.mkdir(parents=True, exist_ok=True)
    pki = make_pki(workdir / "pki")
    write_password_file(workdir / "passwords", passwords)
    (workdir / "acl").write_text(acl)
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        CONF.format(
            port=port,
            ca=pki.ca_cert,
            cert=pki.server_cert,
            key=pki.server_key,
            passwords=workdir / "passwords",
            acl=workdir / "acl",
            user=getpass.getuser(),
            require_certificate="true" if require_certificate else "false",
        )
    )
    logfile = workdir / "mosquitto.log"
    with logfile.open("ab") as out:
        proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_listening(port, proc, logfile)
        yield SecureBroker("127.0.0.1", port, pki, dict(passwords), logfile)
    finally:
        stop_child(proc, 5)


def _wait_listening(port: int, proc: subprocess.Popen[bytes], logfile: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mosquitto stopped at start: {logfile.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise AssertionError(f"mosquitto did not listen on 127.0.0.1:{port}: {logfile.read_text()}")
