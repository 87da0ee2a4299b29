"""Scale: a campus of 10,000 rooms loaded and running over MQTT.

The campus comes from examples/scenarios/campus-10k.yaml (100 schools of 100 rooms: classrooms,
labs, libraries, corridors, each with a Zigbee2MQTT multisensor, a light and, in teaching rooms,
a fan). On a fresh Mosquitto, with the example rules:

1. ``campusctl run`` starts: the time until it is online (its retained status; also the CPU
   seconds it had used by then) and until it answers a probe, its RSS, and its CPU while idle
   (no device publishes) for `--idle` seconds;
2. ``campusctl simulate`` runs the same scenario in real time, every multisensor reporting once
   per 10 s (1,000 readings/s for 10,000 rooms) and every actuator answering its commands;
3. over `--seconds` seconds of that load: the controller's CPU, RSS, the readings/s the broker
   carried to it and the commands it sent.

    .venv/bin/python -m bench.scale [--rooms N] [--seconds S] [--idle S] [--json FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.campus_load.generator import CpuProbe, Receiver
from bench.campus_load.wire import RawPublisher, publish_packet
from bench.common import EXAMPLES, write_json
from controller.broker import running_mosquitto
from simulators.scenario import load_scenario

SCENARIO = EXAMPLES / "scenarios" / "campus-10k.yaml"
ROOMS_PER_BUILDING = 100
REPORT_INTERVAL = 10.0
CAMPUSCTL = Path(sys.executable).parent / "campusctl"


def scenario_for(rooms: int, folder: Path) -> Path:
    """campus-10k.yaml with as many 100-room buildings as `rooms` asks for."""
    data = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    data["buildings"][0]["count"] = max(1, rooms // ROOMS_PER_BUILDING)
    data["kinds_from"] = str((SCENARIO.parent / data["kinds_from"]).resolve())
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def wait_for_probe(port: int, topic: str, light: str, timeout: float) -> float:
    """Publish a dark, occupied reading for one room until its light is commanded on; the
    seconds it took."""
    receiver = Receiver(port)
    receiver.start()
    publisher = RawPublisher(port, "bench-scale-probe")
    payload = b'{"occupancy":true,"illuminance":5,"co2":600,"temperature":21,"humidity":40}'
    began = time.monotonic()
    try:
        while time.monotonic() - began < timeout:
            publisher.send(publish_packet(topic.encode(), payload))
            time.sleep(0.25)
            if any(t == light and p.startswith(b'{"state":"ON"') for _, t, p in receiver.take()):
                return time.monotonic() - began
        raise TimeoutError(f"campusctl did not light the probe room within {timeout:g} s")
    finally:
        publisher.close()
        receiver.close()


class Counter:
    """Counts the messages the broker carries on some topics."""

    def __init__(self, port: int, topic: str, suffix: str = "") -> None:
        self.suffix = suffix
        self.receiver = Receiver(port, (topic,))
        self.receiver.start()

    def take(self) -> int:
        return sum(t.endswith(self.suffix) for _, t, _ in self.receiver.take())

    def close(self) -> None:
        self.receiver.close()


def measure(
    rooms: int, seconds: float, idle: float, folder: Path, warmup: float = 25.0
) -> dict[str, Any]:
    scenario_file = scenario_for(rooms, folder)
    scenario = load_scenario(scenario_file)
    campus_file = folder / "campus.yaml"
    campus_file.write_text(scenario.campus_yaml, encoding="utf-8")
    first = scenario.campus.rooms[0]
    sensor = next(p.mqtt.topic for p in first.points.values() if p.mqtt is not None)
    light = first.actuators["lights"].mqtt
    assert light is not None
    out: dict[str, Any] = {"rooms": len(scenario.campus.rooms)}
    print(f"{out['rooms']} rooms; campus.yaml {campus_file.stat().st_size / 1e6:.1f} MB")
    with running_mosquitto(folder / "mosquitto") as broker:
        url = f"mqtt://127.0.0.1:{broker.port}"
        log = (folder / "campusctl.log").open("ab")
        began = time.monotonic()
        controller = subprocess.Popen(
            [
                str(CAMPUSCTL),
                "--log-level",
                "warning",
                "run",
                "--config",
                str(campus_file),
                "--rules",
                str(EXAMPLES / "rules"),
                "--broker",
                url,
                "--no-discovery",
                "--settle",
                "5",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=True,
        )
        simulator = None
        status = Receiver(broker.port, ("campusctl/+/status",))
        status.start()
        counters: list[Counter] = []
        try:
            while not any(p == b"online" for _, _, p in status.take()):
                if controller.poll() is not None or time.monotonic() - began > 600:
                    raise RuntimeError(f"campusctl did not come online; see {log.name}")
                time.sleep(0.05)
            out["startup_s"] = round(time.monotonic() - began, 2)
            cpu = CpuProbe(controller.pid)
            out["startup_cpu_s"] = round(cpu.seconds(), 2)
            wait_for_probe(broker.port, sensor, light.set_topic, timeout=600)
            out["first_command_s"] = round(time.monotonic() - began, 2)
            print(
                f"controller online after {out['startup_s']} s ({out['startup_cpu_s']} CPU s), "
                f"first command (after its 5 s settle) at {out['first_command_s']} s"
            )
            time.sleep(3)
            before = cpu.seconds()
            time.sleep(idle)
            out["idle_cpu_pct"] = round(100 * (cpu.seconds() - before) / idle, 2)
            out["idle_rss_mb"] = round(rss_mb(controller.pid), 1)
            print(f"idle: CPU {out['idle_cpu_pct']} %, RSS {out['idle_rss_mb']} MB")
            simulator = subprocess.Popen(
                [
                    str(CAMPUSCTL),
                    "--log-level",
                    "warning",
                    "simulate",
                    "--scenario",
                    str(scenario_file),
                    "--broker",
                    url,
                    "--report-interval",
                    str(REPORT_INTERVAL),
                    "--step",
                    "5",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=folder,
                start_new_session=True,
            )
            commands = Counter(broker.port, "zigbee2mqtt/+/set")
            sensors = Counter(broker.port, "zigbee2mqtt/+", "-multisensor")
            counters += [commands, sensors]
            started = time.monotonic()
            while not sensors.take():
                if simulator.poll() is not None or time.monotonic() - started > 600:
                    raise RuntimeError(f"the simulator published nothing; see {log.name}")
                time.sleep(0.2)
            out["simulator_startup_s"] = round(time.monotonic() - started, 1)
            print(
                f"simulator publishing after {out['simulator_startup_s']} s; measuring after "
                f"{warmup:g} s more",
                flush=True,
            )
            time.sleep(warmup)
            if simulator.poll() is not None:
                raise RuntimeError(f"the simulator stopped; see {log.name}")
            commands.take()
            sensors.take()
            before = cpu.seconds()
            time.sleep(seconds)
            used = cpu.seconds() - before
            messages = sensors.take()
            out["load_cpu_pct"] = round(100 * used / seconds, 2)
            out["load_rss_mb"] = round(rss_mb(controller.pid), 1)
            out["peak_rss_mb"] = round(cpu.peak_rss_mb(), 1)
            out["commands_per_s"] = round(commands.take() / seconds, 1)
            out["sensor_messages_per_s"] = round(messages / seconds, 1)
            out["us_per_message"] = round(1e6 * used / max(1, messages), 1)
            print(
                f"load: CPU {out['load_cpu_pct']} % at {out['sensor_messages_per_s']:.0f} sensor "
                f"messages/s ({out['us_per_message']} µs each), RSS {out['load_rss_mb']} MB, "
                f"{out['commands_per_s']} commands/s"
            )
        finally:
            for proc in (simulator, controller):
                if proc is not None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            for counter in counters:
                counter.close()
            status.close()
            log.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--rooms", type=int, default=10_000, help="rooms (default 10000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="load measured (default 60)")
    parser.add_argument("--idle", type=float, default=20.0, help="idle measured (default 20)")
    parser.add_argument(
        "--warmup", type=float, default=25.0, help="load before measuring (default 25)"
    )
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="campusctl-scale-") as tmp:
        figures = measure(args.rooms, args.seconds, args.idle, Path(tmp), args.warmup)
    write_json(args.json, {"scale": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
