"""District: many schools, each with its own Mosquitto bridged to one district Mosquitto.

    .venv/bin/python -m bench.district [--schools 50] [--rooms 60] [--seconds 60]
        [--alarms 100] [--workers 2] [--json FILE]

Each school has its broker (with the bridge `campusctl district bridge-config` prints) and its
controller as `campusctl run` builds it (control plane, KPIs, heartbeat); the controllers run in
`--workers` processes, several schools each (the machine cannot hold 50 controller processes
and their brokers on 2 cores). Each worker also plays the schools' multisensors: every room
reports every 10 s (Zigbee2MQTT payloads on the school's broker), and at random times a room
reports CO2 1600 ppm, which the school's alarm rule (`co2 > 1500`) raises.

The district side is one process that reads the district broker as the district view does
(tui.district.DistrictState on the portfolio topics, plus the event stream) and measures:
the district broker's message rate and CPU, the district reader's CPU and RSS, and the time
from each alarm's reading (published on the school's broker) to the alarm event's arrival on
the district broker, p50/p99 (CLOCK_MONOTONIC is the same in every process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.campus_load.generator import CpuProbe
from bench.common import write_json
from campus.brokerurl import parse_broker_url
from controller.broker import running_mosquitto
from controller.district import bridge_config

REPORT_EVERY = 10.0
"""Seconds between two reports of a room's multisensor."""
KINDS = """\
kinds:
  classroom:
    points:
      occupancy: {type: bool, stale_after: 10m, mqtt: &ms {topic: "zigbee2mqtt/{room}-ms"}}
      co2: {unit: ppm, range: [250, 10000], stale_after: 10m, mqtt: *ms}
      temperature: {unit: °C, stale_after: 10m, mqtt: *ms}
    actuators:
      lights: {type: switch, default: off, mqtt: {topic: "zigbee2mqtt/{room}-light"}}
      ventilation:
        type: level
        default: 0
        mqtt: {topic: "zigbee2mqtt/{room}-fan", key: percentage}
"""
RULES = """\
rules:
  - id: ventilate
    when: occupancy and co2 > 1000
    until: co2 < 800 or not occupancy
    set: {ventilation: 100}
  - id: lights
    when: occupancy
    set: {lights: on}
  - id: co2-high
    when: co2 > 1500
    alarm: {severity: warning, message: "CO2 {co2:.0f} ppm in {room.name}"}
"""


def campus_yaml(site: str, rooms: int) -> str:
    return (
        f"site: {{id: {site}, name: School {site}, timezone: Europe/Oslo}}\n{KINDS}"
        f"buildings:\n  - id: b1\n    rooms:\n"
        f"      - {{id: r{101}..r{100 + rooms}, kind: classroom, capacity: 28, area: 60}}\n"
    )


@dataclass(frozen=True)
class School:
    site: str
    port: int
    folder: str


def worker(
    schools: list[School], rooms: int, seconds: float, alarms: int, pipe: Connection
) -> None:
    """Controllers and multisensors of `schools`; sends the alarm triggers (site, room,
    monotonic time) back."""
    asyncio.run(_worker(schools, rooms, seconds, alarms, pipe))


async def _worker(
    schools: list[School], rooms: int, seconds: float, alarms: int, pipe: Connection
) -> None:
    from campus.clock import WallClock
    from campus.config import load_campus
    from controller.service import ServiceOptions, build_controller
    from rules.loader import load_rules

    logging.getLogger("campusctl").setLevel(logging.ERROR)  # the alarms are the load
    tasks = []
    for school in schools:
        folder = Path(school.folder)
        (folder / "campus.yaml").write_text(campus_yaml(school.site, rooms))
        (folder / "rules.yaml").write_text(RULES)
        campus = load_campus(folder / "campus.yaml")
        rules = load_rules([folder / "rules.yaml"], campus)
        options = ServiceOptions(
            broker_url=f"mqtt://127.0.0.1:{school.port}", settle=1.0, discovery=False, state=None
        )
        controller = build_controller(campus, rules, WallClock(), options)
        tasks.append(asyncio.create_task(controller.run()))
    clients = {}
    for school in schools:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sensors-{school.site}")
        client.connect("127.0.0.1", school.port)
        client.loop_start()
        clients[school.site] = client
    pipe.send("ready")
    pipe.recv()  # start
    rng = random.Random(os.getpid())
    room_ids = [f"r{n}" for n in range(101, 101 + rooms)]
    triggers = sorted(rng.uniform(REPORT_EVERY, seconds - 5) for _ in range(alarms))
    pairs = rng.sample(
        [(s, r) for s in schools for r in room_ids], min(alarms, len(schools) * rooms)
    )
    sent: list[tuple[str, str, float]] = []
    start = time.monotonic()
    period = REPORT_EVERY / max(1, rooms * len(schools))
    n = 0
    while (now := time.monotonic()) - start < seconds:
        if triggers and now - start >= triggers[0]:
            triggers.pop(0)
            if not pairs:
                continue
            school, room = pairs.pop()  # each alarm in a room of its own
            payload = {"occupancy": True, "co2": 1600, "temperature": 22.0}
            stamp = time.monotonic()
            clients[school.site].publish(f"zigbee2mqtt/{room}-ms", json.dumps(payload))
            sent.append((school.site, f"b1.{room}", stamp))
            continue
        school = schools[n % len(schools)]
        room = room_ids[(n // len(schools)) % rooms]
        n += 1
        payload = {
            "occupancy": rng.random() < 0.6,
            "co2": rng.uniform(450, 1300),
            "temperature": rng.uniform(19, 24),
        }
        clients[school.site].publish(f"zigbee2mqtt/{room}-ms", json.dumps(payload))
        await asyncio.sleep(max(0.0, start + n * period - time.monotonic()))
    pipe.send(sent)
    await asyncio.sleep(3)  # the last alarms cross the bridge
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for client in clients.values():
        client.loop_stop()


def reader(port: int, seconds: float, pipe: Connection) -> None:
    """The district side: DistrictState fed from the district broker, every message counted,
    alarm events' arrival times recorded."""
    from tui.district import DistrictState, filters

    state = DistrictState()
    arrivals: dict[tuple[str, str], float] = {}
    count = [0]

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        count[0] += 1
        topic = message.topic
        if topic.endswith("/events"):
            data = json.loads(message.payload)
            if data.get("type") == "alarm" and data.get("active"):
                key = (topic.split("/")[1], str(data.get("room")))
                arrivals.setdefault(key, time.monotonic())
            return
        state.apply_raw(topic, bytes(message.payload))

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="district-reader")
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(
        [(f, 1) for f in (*filters(), "campusctl/+/events", "campusctl/+/room/#")]
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    pipe.send("ready")
    pipe.recv()  # start
    begin, before = time.monotonic(), count[0]
    time.sleep(seconds)
    rate = (count[0] - before) / (time.monotonic() - begin)
    pipe.send({"rate": rate, "arrivals": arrivals, "schools": len(state.schools)})
    time.sleep(5)
    pipe.send({"arrivals": arrivals})
    client.loop_stop()


def pid_of(conf: Path) -> int:
    """The Mosquitto started with `conf`."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if str(conf).encode() in (entry / "cmdline").read_bytes():
                    return int(entry.name)
    raise RuntimeError(f"no Mosquitto runs {conf}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=50)
    parser.add_argument("--rooms", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--alarms", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-district-") as tmp, contextlib.ExitStack() as st:
        root = Path(tmp)
        district = st.enter_context(running_mosquitto(root / "district"))
        schools = []
        for n in range(1, args.schools + 1):
            site = f"s{n:02d}"
            bridge = bridge_config(site, parse_broker_url(district.url))
            broker = st.enter_context(running_mosquitto(root / site, extra=bridge))
            (root / f"{site}-files").mkdir()
            schools.append(School(site, broker.port, str(root / f"{site}-files")))
        print(f"{len(schools)} school brokers bridged to the district broker", file=sys.stderr)
        pipes, procs = [], []
        for w in range(args.workers):
            mine = schools[w :: args.workers]
            parent, child = ctx.Pipe()
            alarms = args.alarms // args.workers
            proc = ctx.Process(target=worker, args=(mine, args.rooms, args.seconds, alarms, child))
            proc.start()
            pipes.append(parent)
            procs.append(proc)
        parent, child = ctx.Pipe()
        district_reader = ctx.Process(target=reader, args=(district.port, args.seconds, child))
        district_reader.start()
        for pipe in [*pipes, parent]:
            assert pipe.poll(120), "a worker did not start"
            pipe.recv()
        time.sleep(5)  # controllers connected, settled
        broker_cpu = CpuProbe(pid_of(root / "district" / "mosquitto.conf"))
        reader_cpu = CpuProbe(district_reader.pid or 0)
        cpu0, bcpu0 = reader_cpu.seconds(), broker_cpu.seconds()
        t0 = time.monotonic()
        for pipe in [*pipes, parent]:
            pipe.send("start")
        sent = [item for pipe in pipes for item in pipe.recv()]
        first = parent.recv()
        elapsed = time.monotonic() - t0
        reader_seconds = reader_cpu.seconds() - cpu0
        broker_seconds = broker_cpu.seconds() - bcpu0
        rss = reader_cpu.peak_rss_mb()
        late = parent.recv()
        arrivals = {**first["arrivals"], **late["arrivals"]}
        latencies = [
            1000 * (arrivals[(site, room)] - at)
            for site, room, at in sent
            if (site, room) in arrivals and arrivals[(site, room)] >= at
        ]
        for proc in [*procs, district_reader]:
            proc.join(30)
        figures = {
            "schools": args.schools,
            "rooms": args.schools * args.rooms,
            "readings_per_s": args.schools * args.rooms / REPORT_EVERY,
            "district_messages_per_s": round(first["rate"], 1),
            "district_broker_cpu_percent": round(100 * broker_seconds / elapsed, 1),
            "reader_cpu_percent": round(100 * reader_seconds / elapsed, 1),
            "reader_rss_mb": round(rss, 1),
            "schools_seen": first["schools"],
            "alarms_sent": len(sent),
            "alarms_seen": len(latencies),
            "alarm_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "alarm_p99_ms": round(statistics.quantiles(latencies, n=100)[98], 1)
            if len(latencies) >= 2
            else None,
        }
        print(json.dumps(figures, indent=2))
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
