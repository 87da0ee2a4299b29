"""A broker for the demo and the tests: Mosquitto when installed, else the embedded amqtt.

Both bind to 127.0.0.1 only. Mosquitto gets the settings a controller under load needs, the ones
docs/security.md gives operators: queue limits raised, so a client that falls behind for a moment
loses no QoS 1 message, and TCP_NODELAY, so a small packet goes out at once instead of waiting
on Nagle's algorithm (the campus-load benchmark runs on them: bench/README.md, section "Campus
load against peers").
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from campus.problems import CampusError
from controller.children import die_with_parent, stop_child

log = logging.getLogger("campusctl.broker")


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    kind: str
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


MOSQUITTO_CONF = """\
user {user}
listener {port} 127.0.0.1
allow_anonymous true
persistence false
log_dest stdout
log_type error
log_type warning
log_type notice
max_queued_messages 1000000
max_inflight_messages 100
set_tcp_nodelay true
"""


def mosquitto_conf(port: int) -> str:
    """The configuration of a loopback Mosquitto on `port`.

    It runs as whoever runs us: as root it would drop to `mosquitto`, which cannot write our
    folders and loses the parent-death signal.
    """
    return MOSQUITTO_CONF.format(port=port, user=getpass.getuser())


@contextlib.contextmanager
def running_mosquitto(workdir: Path, port: int | None = None, extra: str = "") -> Iterator[Broker]:
    """Run Mosquitto with a generated config on loopback until the block ends; `extra` is
    appended to the config (later lines win: ``persistence true``, say)."""
    binary = mosquitto_binary()
    if binary is None:
        raise CampusError("mosquitto is not installed (Debian: apt-get install mosquitto)")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "mosquitto.conf"
    conf.write_text(mosquitto_conf(port) + extra)
    logfile = workdir / "mosquitto.log"
    with logfile.open("ab") as out:
        # Its own session: Ctrl-C reaches only campusctl, which stops the broker last.
        proc = subprocess.Popen(
            [binary, "-c", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 (one prctl call, no locks)
        )
    try:
        _wait_for_port(port, lambda: proc.poll() is not None, logfile)
        yield Broker("127.0.0.1", port, "mosquitto", logfile)
    finally:
        stop_child(proc, 5)


@contextlib.asynccontextmanager
async def running_amqtt(port: int | None = None) -> AsyncIterator[Broker]:
    """The embedded amqtt broker (MQTT 3.1.1): enough for the demo, not a campus under load
    (bench/README.md, section "The demo's embedded broker (amqtt)")."""
    try:
        from amqtt.broker import Broker as AmqttBroker
    except ImportError as exc:
        raise CampusError(
            "no MQTT broker: install mosquitto (apt-get install mosquitto) or amqtt "
            "(pip install 'campusctl[demo]'), or pass --broker"
        ) from exc
    port = port or free_port()
    config: dict[str, Any] = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "sys_interval": 0,
        "auth": {"allow-anonymous": True, "plugins": ["auth_anonymous"]},
        "topic-check": {"enabled": False},
    }
    broker = AmqttBroker(config)
    await broker.start()
    try:
        yield Broker("127.0.0.1", port, "amqtt")
    finally:
        await broker.shutdown()


def _wait_for_port(port: int, exited: Any, logfile: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if exited():
            raise CampusError(f"mosquitto stopped at start: {logfile.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise CampusError(f"mosquitto did not listen on 127.0.0.1:{port}: {logfile.read_text()}")
