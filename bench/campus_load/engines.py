"""The engines under load and how each is started, as its user would start it, on a Mosquitto of
its own (and, for campusctl-history, a VictoriaMetrics of its own).

- ceiling: a bare paho subscriber that parses each reading's JSON (ceiling.py);
- script: the two rules in a plain paho script (script.py);
- nodered: Node-RED 5 with a flow of the two rules (nodered.py);
- campusctl: ``campusctl run`` with its defaults as shipped (control plane, state file, logging
  at info); only ``--settle 1`` (start-up) and ``--no-discovery`` (the mDNS advertisement, which
  several controllers on one machine would fight over) are given;
- campusctl-history: the same with history to a local VictoriaMetrics (``--influx-url``);
- campusctl-core (on request): the driver, runtime and engine without extensions (core.py).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.campus_load import nodered
from bench.campus_load.cpulimit import cpu_limited
from bench.campus_load.generator import CpuProbe, Generator
from bench.campus_load.workload import RULES_YAML, campus_yaml
from controller.broker import free_port, running_mosquitto
from controller.children import stop_child

ENGINES = ("ceiling", "script", "nodered", "campusctl", "campusctl-history")
VARIANTS = ("campusctl-core",)
"""Measured on request (--engines), reported apart: campusctl without its extensions."""
HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


def has_commands(name: str) -> bool:
    return name != "ceiling"


def engine_command(
    name: str, port: int, workdir: Path, *, rooms: int, qos: int, history: str | None = None
) -> list[str]:
    if name == "ceiling":
        return [PYTHON, str(HERE / "ceiling.py"), str(port)]
    if name == "script":
        return [PYTHON, str(HERE / "script.py"), str(port), str(qos)]
    if name == "nodered":
        return nodered.command(workdir / "nodered", port, free_port(), qos)
    config, rules = workdir / "campus.yaml", workdir / "rules.yaml"
    config.write_text(campus_yaml(rooms, qos))
    rules.write_text(RULES_YAML)
    if name == "campusctl-core":
        return [PYTHON, str(HERE / "core.py"), str(port), str(config), str(rules)]
    campusctl = Path(PYTHON).parent / "campusctl"
    command = [
        str(campusctl),
        "run",
        "--config",
        str(config),
        "--rules",
        str(rules),
        "--broker",
        f"mqtt://127.0.0.1:{port}",
        "--settle",
        "1",
        "--no-discovery",
    ]
    if history is not None:
        command += ["--influx-url", history]
    return command


@contextlib.contextmanager
def victoria_metrics(workdir: Path) -> Iterator[str]:
    """A VictoriaMetrics (Debian ``victoria-metrics``) on a free loopback port; yields its URL."""
    binary = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
    if not Path(binary).exists():
        raise RuntimeError("victoria-metrics is not installed (apt-get install victoria-metrics)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "victoria-metrics.log").open("ab")
    proc = subprocess.Popen(
        [
            binary,
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={workdir / 'victoria-data'}",
            "-loggerLevel=WARN",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"victoria-metrics did not start; see {log.name}")
            time.sleep(0.05)
        yield url
    finally:
        stop_child(proc, 10)
        log.close()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def engine_session(
    name: str,
    workdir: Path,
    *,
    rooms: int,
    qos: int,
    publishers: int,
    cpu_limit: float | None = None,
) -> Iterator[tuple[Generator, CpuProbe]]:
    """A fresh Mosquitto, a fresh engine process on it and a generator connected to both, ready
    for load; everything in `workdir`, which must be new. `cpu_limit`: the engine process held
    to that share of one core (cpulimit.py)."""
    workdir.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(running_mosquitto(workdir / "mosquitto"))
        history = None
        if name == "campusctl-history":
            history = stack.enter_context(victoria_metrics(workdir))
        log = stack.enter_context((workdir / f"{name}.log").open("ab"))
        proc = subprocess.Popen(
            engine_command(name, broker.port, workdir, rooms=rooms, qos=qos, history=history),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
        )
        stack.callback(stop_child, proc, 10)
        if cpu_limit is not None:
            stack.enter_context(cpu_limited(proc.pid, cpu_limit))
        generator = Generator(broker.port, rooms, publishers, counts_only=not has_commands(name))
        stack.callback(generator.close)
        try:
            generator.wait_ready(120.0, lambda: proc.poll() is None)
        except RuntimeError as exc:
            tail = Path(log.name).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}") from exc
        generator.prime()
        yield generator, CpuProbe(proc.pid)
