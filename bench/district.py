"""District: many schools, each with its own Mosquitto bridged to one district Mosquitto, and
the real district view reading the district broker.

    .venv/bin/python -m bench.district [--schools 50] [--rooms 60] [--seconds 60]
        [--alarms 100] [--workers 2] [--keys 20] [--json FILE]

Each school has its broker (with the bridge `campusctl district bridge-config` prints) and its
controller as `campusctl run` builds it (control plane, KPIs, heartbeat); the controllers run in
`--workers` processes, several schools each (the machine cannot hold 50 controller processes
and their brokers on 2 cores). One more process plays the schools' multisensors, so the
controllers' processes only control: every room reports every 10 s (Zigbee2MQTT payloads on its
school's broker), and at random times a room reports CO2 1600 ppm, which the school's alarm
rule (`co2 > 1500`) raises.

The district side, over the load window (`--seconds`):

- The district view as a user starts it: `campusctl tui --district --broker URL` in a
  pseudo-terminal of `COLUMNS` x `LINES` (TERM=xterm-256color), whose output a thread reads
  all along, as a terminal would (the TUI never waits on a full terminal). Its CPU (% of one
  core, /proc/<pid>/stat) and peak RSS (VmHWM).
- Key to redraw: `--keys` times, 1 s apart, the key `s` (the portfolio sorted by the next
  column) is written to the terminal. The view also redraws on its own, every 0.25 s while
  heartbeat, KPI or alarm messages arrive (TuiOptions.refresh), so the key's redraw is told
  apart by its content: the first frame whose sort line, "50 schools, by <column> (worst
  first)", names the new column (nothing but the key changes it); the table's rows in the new
  order are in the same frame, below it. Reported: the time from writing the key to the last
  byte of that frame's output burst (bytes less than `QUIET` apart: a frame comes in pieces,
  and the table's scrollbar is often repainted some 20 ms later), and, as `key_sorted`, to
  the read that completed the new sort line. A key whose redraw does not come before the
  next key is not counted (`keys_redrawn`).
- Alarm to row: the time from each alarm's reading (published on its school's broker) to the
  first frame whose alarm summary ("N alarms in M schools") counts it: the frame that puts its
  row in the view's alarm list (of which the screen shows the first rows). The k-th alarm sent
  is matched with the first frame counting k (cleared alarms stay listed until acknowledged,
  so the count only grows); two alarms raised close together that arrive crossed get each
  other's latency, which never raises the worst.
- A listener on the district broker: its message rate (all the bridges carry, and the part
  the district view subscribes to), and the time from each alarm's reading to the alarm event
  on the district broker, p50/p99: what the bridge adds (the alarm list the district view
  reads is published on the controller's next tick after the event, over the same bridge).
- The district broker's CPU.

CLOCK_MONOTONIC is the same in every process, so times taken in different processes compare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import logging
import multiprocessing
import os
import random
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from bisect import bisect_right
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
from controller.children import die_with_parent, stop_child
from controller.district import bridge_config

REPORT_EVERY = 10.0
"""Seconds between two reports of a room's multisensor."""
COLUMNS, LINES = 160, 50
"""The district view's terminal: wide enough for every portfolio column but CO2≤1400."""
QUIET = 0.030
"""Seconds without output that end a burst of screen output (one redraw)."""
KEY = b"s"
"""The district view's "Sort" key: the portfolio in the next column's order."""
SORT_LINE = re.compile(rb"(\d+) schools, by (.+?) \((?:worst first|reversed)\)")
ALARM_LINE = re.compile(rb"(\d+) alarms in \d+ schools")
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


def worker(schools: list[School], rooms: int, pipe: Connection) -> None:
    """The controllers of `schools`, until told to stop."""
    asyncio.run(_worker(schools, rooms, pipe))


async def _worker(schools: list[School], rooms: int, pipe: Connection) -> None:
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
    pipe.send("ready")
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # stop
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def sensors(
    schools: list[School], rooms: int, seconds: float, alarms: int, pipe: Connection
) -> None:
    """Every room's multisensor for `seconds`, and `alarms` rooms reporting CO2 1600 ppm at
    random times, each alarm in a room of its own; sends the alarms' (site, room, monotonic
    time of the reading) back."""
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
            school, room = pairs.pop()
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
        time.sleep(max(0.0, start + n * period - time.monotonic()))
    pipe.send(sent)
    for client in clients.values():
        client.loop_stop()


def listener(port: int, seconds: float, pipe: Connection) -> None:
    """The district broker's traffic: every message counted (and apart, those on the district
    view's topics), alarm events' arrival times recorded."""
    from tui.district import ALARMS_FILTER, filters

    viewed = [*filters(), ALARMS_FILTER]
    arrivals: dict[tuple[str, str], float] = {}
    count = [0, 0]

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        count[0] += 1
        topic = message.topic
        if any(mqtt.topic_matches_sub(f, topic) for f in viewed):
            count[1] += 1
        if topic.endswith("/events"):
            data = json.loads(message.payload)
            if data.get("type") == "alarm" and data.get("active"):
                key = (topic.split("/")[1], str(data.get("room")))
                arrivals.setdefault(key, time.monotonic())

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="district-listener")
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(
        [(f, 1) for f in (*viewed, "campusctl/+/events", "campusctl/+/room/#")]
    )
    client.connect("127.0.0.1", port)
    client.loop_start()
    pipe.send("ready")
    pipe.recv()  # start
    begin, seen = time.monotonic(), list(count)
    time.sleep(seconds)
    took = time.monotonic() - begin
    rates = [(after - before) / took for after, before in zip(count, seen, strict=True)]
    pipe.send({"rate": rates[0], "viewed_rate": rates[1]})
    pipe.recv()  # done
    pipe.send({"arrivals": arrivals})
    client.loop_stop()


class Terminal:
    """`command` in a pseudo-terminal of `columns` x `lines`; a thread reads everything it
    writes, with the monotonic time of each read, so it never blocks on a full terminal."""

    def __init__(self, command: list[str], columns: int = COLUMNS, lines: int = LINES) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
        env["TERM"] = "xterm-256color"
        self.proc = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 (one prctl call, no locks)
        )
        os.close(slave)
        self.chunks: list[tuple[float, bytes]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return  # the other side closed
            if not data:
                return
            self.chunks.append((time.monotonic(), data))

    def press(self, key: bytes) -> float:
        """Write `key` as typed; the monotonic time just before."""
        at = time.monotonic()
        os.write(self.master, key)
        return at

    def wait_for(self, pattern: re.Pattern[bytes], timeout: float) -> re.Match[bytes] | None:
        """The latest match of `pattern` in the last 256 kB of output, once there is one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tail = b"".join(data for _, data in self.chunks[-64:])[-(1 << 18) :]
            found = list(pattern.finditer(tail))
            if found:
                return found[-1]
            time.sleep(0.2)
        return None

    def stop(self) -> None:
        """End the command (SIGTERM, then SIGKILL) and close the terminal; again: nothing."""
        if self.proc.returncode is None:
            stop_child(self.proc, 5)
        self._reader.join(5)  # reading ends once the command has closed the terminal
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


@dataclass(frozen=True)
class Output:
    """A terminal's output as one byte string, and when each part of it was read."""

    data: bytes
    starts: list[int]
    times: list[float]

    @classmethod
    def of(cls, chunks: list[tuple[float, bytes]]) -> Output:
        starts, offset = [], 0
        for _, data in chunks:
            starts.append(offset)
            offset += len(data)
        return cls(b"".join(d for _, d in chunks), starts, [t for t, _ in chunks])

    def found(self, pattern: re.Pattern[bytes]) -> list[tuple[int, re.Match[bytes]]]:
        """Each match with the index of the read that completed it."""
        return [
            (bisect_right(self.starts, m.end() - 1) - 1, m) for m in pattern.finditer(self.data)
        ]

    def burst_end(self, index: int) -> float:
        """When the burst holding read `index` ended: its last read before `QUIET` without."""
        while index + 1 < len(self.times) and self.times[index + 1] - self.times[index] < QUIET:
            index += 1
        return self.times[index]


def key_redraws(
    output: Output, presses: list[float], first: bytes
) -> list[tuple[float, float] | None]:
    """For each press, seconds to the read that completes the first sort line naming a column
    other than the one sorted by before it (`first` before the first press), and to the end
    of that read's burst; None when no such line came before the next press."""
    sorts = [(output.times[i], i, m.group(2)) for i, m in output.found(SORT_LINE)]
    out: list[tuple[float, float] | None] = []
    before = first
    for n, at in enumerate(presses):
        until = presses[n + 1] if n + 1 < len(presses) else float("inf")
        hit = next((s for s in sorts if at < s[0] < until and s[2] != before), None)
        if hit is None:
            out.append(None)
            continue
        seen, index, before = hit
        out.append((seen - at, output.burst_end(index) - at))
    return out


def alarm_rows(output: Output, sent: list[float], since: float) -> list[float]:
    """Seconds from each alarm's reading (`sent`, in time order) to the first frame after
    `since` whose alarm summary counts it (the count shown at `since` taken away)."""
    counts = [(output.times[i], int(m.group(1))) for i, m in output.found(ALARM_LINE)]
    base = max([c for t, c in counts if t <= since], default=0)
    out = []
    for k, at in enumerate(sent, start=1):
        shown = next((t for t, c in counts if t > since and c - base >= k), None)
        if shown is not None:
            out.append(max(0.0, shown - at))
    return out


def spread(seconds: list[float]) -> dict[str, float | None]:
    """p50, p99 and max in ms; p99 interpolated between the values seen (never above the
    max), so it needs 2."""
    ms = sorted(1000 * s for s in seconds)
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98] if len(ms) >= 2 else None
    return {
        "p50_ms": round(statistics.median(ms), 1) if ms else None,
        "p99_ms": None if p99 is None else round(p99, 1),
        "max_ms": round(ms[-1], 1) if ms else None,
    }


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
    parser.add_argument("--keys", type=int, default=20, help="sort keys pressed, 1 s apart")
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
        workers, procs = [], []
        for w in range(args.workers):
            parent, child = ctx.Pipe()
            mine = schools[w :: args.workers]
            proc = ctx.Process(target=worker, args=(mine, args.rooms, child), daemon=True)
            proc.start()
            workers.append(parent)
            procs.append(proc)
        sensor_pipe, child = ctx.Pipe()
        load = (schools, args.rooms, args.seconds, args.alarms, child)
        procs.append(ctx.Process(target=sensors, args=load, daemon=True))
        listen, child = ctx.Pipe()
        watch = (district.port, args.seconds, child)
        procs.append(ctx.Process(target=listener, args=watch, daemon=True))
        for proc in procs[args.workers :]:
            proc.start()
        for pipe in [*workers, sensor_pipe, listen]:
            assert pipe.poll(120), "a worker did not start"
            pipe.recv()
        time.sleep(5)  # controllers connected, settled
        campusctl = str(Path(sys.executable).with_name("campusctl"))
        tui = Terminal([campusctl, "tui", "--district", "--broker", district.url])
        st.callback(tui.stop)
        every = re.compile(rb"(%d) schools, by (.+?) \(" % args.schools)
        shown = tui.wait_for(every, 60)
        assert shown is not None, "the district view did not show every school"
        broker_cpu = CpuProbe(pid_of(root / "district" / "mosquitto.conf"))
        tui_cpu = CpuProbe(tui.proc.pid)
        tcpu0, bcpu0 = tui_cpu.seconds(), broker_cpu.seconds()
        t0 = time.monotonic()
        for pipe in [sensor_pipe, listen]:
            pipe.send("start")
        presses = []
        for n in range(args.keys):
            at = t0 + 2 + n
            if at > t0 + args.seconds - 2:
                break
            time.sleep(max(0.0, at - time.monotonic()))
            presses.append(tui.press(KEY))
        sent = sensor_pipe.recv()
        elapsed = time.monotonic() - t0
        tui_seconds = tui_cpu.seconds() - tcpu0
        broker_seconds = broker_cpu.seconds() - bcpu0
        rates = listen.recv()
        time.sleep(5)  # the last alarms cross the bridge and are drawn
        tui_rss = tui_cpu.peak_rss_mb()
        listen.send("done")
        arrivals = listen.recv()["arrivals"]
        tui.stop()
        for pipe in workers:
            pipe.send("stop")
        for proc in procs:
            proc.join(30)
        output = Output.of(tui.chunks)
        redraws = [r for r in key_redraws(output, presses, shown.group(2)) if r is not None]
        in_view = alarm_rows(output, sorted(at for _, _, at in sent), t0)
        on_broker = [
            arrivals[(site, room)] - at
            for site, room, at in sent
            if (site, room) in arrivals and arrivals[(site, room)] >= at
        ]
        schools_shown = [int(m.group(1)) for _, m in output.found(SORT_LINE)]
        figures = {
            "schools": args.schools,
            "rooms": args.schools * args.rooms,
            "readings_per_s": args.schools * args.rooms / REPORT_EVERY,
            "district_messages_per_s": round(rates["rate"], 1),
            "district_view_messages_per_s": round(rates["viewed_rate"], 1),
            "district_broker_cpu_percent": round(100 * broker_seconds / elapsed, 1),
            "tui_cpu_percent": round(100 * tui_seconds / elapsed, 1),
            "tui_rss_mb": round(tui_rss, 1),
            "schools_seen": schools_shown[-1] if schools_shown else 0,
            "keys_pressed": len(presses),
            "keys_redrawn": len(redraws),
            **{f"key_sorted_{k}": v for k, v in spread([seen for seen, _ in redraws]).items()},
            **{f"key_redraw_{k}": v for k, v in spread([done for _, done in redraws]).items()},
            "alarms_sent": len(sent),
            "alarms_seen": len(on_broker),
            **{f"alarm_{k}": v for k, v in spread(on_broker).items()},
            "alarms_in_view": len(in_view),
            **{f"alarm_view_{k}": v for k, v in spread(in_view).items()},
        }
        print(json.dumps(figures, indent=2))
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
