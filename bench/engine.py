"""Rules engine speed: readings per second in process, load time and memory, and the cost of
rules that do not read the point a reading is for.

Three measurements, each in a fresh process so memory figures are not mixed up:

- ``scale``: a campus of ROOMS classrooms (default 10,000) with the five rules below (50,000
  instances); the time to compile and match the rules (load_rules), to build the engine
  (instances and indexes), the process's RSS, and readings/s through the engine for two
  streams: the worst case (every reading a new value of a point the rules read, so each one
  re-evaluates its instances), and multisensor messages as Zigbee2MQTT sends them (five
  values a minute per room, two of them read by no rule, occupancy mostly repeated), fed one
  reading at a time (`Engine.on_reading`) and a message at a time (`Engine.on_message`).
- ``unrelated``: 1,000 rooms, one rule that reads co2, and then the same plus 1,000 rules that
  read only temperature; readings/s of co2 readings in both. Dispatch goes from a point to the
  instances that read it, so the two should match.

    .venv/bin/python -m bench.engine [--rooms N] [--readings N] [--json FILE]

Rates are per CPU second of the benchmark process (time.process_time), so other load on the
machine disturbs them less; still, run it on an idle machine. The figures go to stdout and,
with --json, to a file.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import machine, write_json
from campus.model import (
    ActuatorSpec,
    ActuatorType,
    Building,
    Campus,
    Period,
    PointSpec,
    Room,
    Site,
    ValueType,
)
from campus.types import Reading
from rules.engine import Engine
from rules.loader import load_rules

FIVE_RULES = """\
rules:
  - id: ventilate-in-proportion
    rooms: kind == "classroom"
    when: occupancy
    until: not occupancy
    until_for: 10m
    set:
      ventilation: clamp((co2 - 600) / 4, 20, 100)
    priority: energy
  - id: ventilate-stuffy
    rooms: kind == "classroom"
    when: occupancy and co2 > 1000
    for: 2m
    until: co2 < 800 or not occupancy
    set:
      ventilation: 100
  - id: lights-on-when-dark
    rooms: kind == "classroom"
    when: occupancy and illuminance < 300
    until: not occupancy
    until_for: 15m
    set:
      lights: on
  - id: co2-alarm
    rooms: kind == "classroom"
    when: in_session and co2 > 1500
    for: 20m
    until: co2 < 1200
    alarm:
      message: "CO2 {co2:.0f} ppm in {room.name}"
  - id: night-lights-off
    rooms: kind == "classroom"
    when: not during("Mon-Fri 06:00-20:00")
    set:
      lights: off
    priority: schedule
"""
START = 1795420800.0  # 2026-11-23 07:00 in Oslo, a Monday
TARGETS = {"readings_per_s": 200_000, "load_s": 2.0, "rss_mb": 400}


def campus_of(rooms: int) -> Campus:
    """`rooms` classrooms in buildings of 1,000, each with the demo's points and actuators."""
    buildings: list[Building] = []
    for b in range((rooms + 999) // 1000):
        bid = f"b{b + 1}"
        members = []
        for r in range(min(1000, rooms - b * 1000)):
            rid = f"{bid}.r{r:04d}"
            points = {
                "occupancy": PointSpec(f"{rid}.occupancy", "occupancy", rid, ValueType.BOOL),
                "co2": PointSpec(f"{rid}.co2", "co2", rid, unit="ppm", range=(250, 10000)),
                "illuminance": PointSpec(f"{rid}.illuminance", "illuminance", rid, unit="lx"),
                "temperature": PointSpec(f"{rid}.temperature", "temperature", rid, unit="°C"),
                "humidity": PointSpec(f"{rid}.humidity", "humidity", rid, unit="%"),
            }
            actuators = {
                "lights": ActuatorSpec(f"{rid}.lights", "lights", rid, ActuatorType.SWITCH, False),
                "ventilation": ActuatorSpec(
                    f"{rid}.ventilation", "ventilation", rid, ActuatorType.LEVEL, 0.0, deadband=5
                ),
            }
            members.append(
                Room(
                    rid,
                    f"r{r:04d}",
                    bid,
                    f"Room {r}",
                    "classroom",
                    28,
                    60.0,
                    points=points,
                    actuators=actuators,
                )
            )
        buildings.append(Building(bid, f"Building {b + 1}", tuple(members)))
    lessons = tuple(Period(f"lesson-{i}", 8 * 60 + i * 55, 8 * 60 + i * 55 + 45) for i in range(7))
    timetable = {day: lessons for day in range(5)}
    return Campus(Site("bench", "Bench", "Europe/Oslo"), tuple(buildings), timetable)


def readings_for(campus: Campus, count: int, seed: int = 1) -> list[Reading]:
    """A realistic mix: every reading a new value; a minute of campus time per pass."""
    rng = random.Random(seed)
    rooms = [room.id for room in campus.rooms]
    co2 = dict.fromkeys(rooms, 700.0)
    lux = dict.fromkeys(rooms, 400.0)
    occupied = dict.fromkeys(rooms, False)
    out: list[Reading] = []
    t = START + 10.0
    step = 60.0 / max(1, len(rooms))
    while len(out) < count:
        for room in rooms:
            t += step
            kind = rng.random()
            if kind < 0.05:
                occupied[room] = not occupied[room]
                out.append(Reading(f"{room}.occupancy", occupied[room], t))
            elif kind < 0.6:
                co2[room] = min(2500.0, max(400.0, co2[room] + rng.uniform(-60, 70)))
                out.append(Reading(f"{room}.co2", round(co2[room], 1), t))
            else:
                lux[room] = min(900.0, max(50.0, lux[room] + rng.uniform(-80, 80)))
                out.append(Reading(f"{room}.illuminance", round(lux[room], 1), t))
            if len(out) >= count:
                break
    return out


def messages_for(campus: Campus, count: int, seed: int = 2) -> list[list[Reading]]:
    """Multisensor messages as Zigbee2MQTT sends them: all five values each time, about one a
    minute per room; CO2 and light drift, temperature and humidity (read by no rule here)
    drift too, occupancy changes now and then and is otherwise repeated."""
    rng = random.Random(seed)
    rooms = [room.id for room in campus.rooms]
    state = {r: [False, 700.0, 400.0, 21.0, 40.0] for r in rooms}
    out: list[list[Reading]] = []
    t = START + 10.0
    step = 60.0 / max(1, len(rooms))
    total = 0
    while total < count:
        for room in rooms:
            t += step
            occupied, co2, lux, temp, hum = state[room]
            if rng.random() < 0.05:
                occupied = not occupied
            co2 = min(2500.0, max(400.0, co2 + rng.uniform(-30, 35)))
            lux = min(900.0, max(50.0, lux + rng.uniform(-40, 40)))
            temp = min(26.0, max(18.0, temp + rng.uniform(-0.1, 0.1)))
            hum = min(70.0, max(20.0, hum + rng.uniform(-0.5, 0.5)))
            state[room] = [occupied, co2, lux, temp, hum]
            out.append(
                [
                    Reading(f"{room}.occupancy", occupied, t),
                    Reading(f"{room}.illuminance", round(lux), t),
                    Reading(f"{room}.co2", round(co2), t),
                    Reading(f"{room}.temperature", round(temp, 1), t),
                    Reading(f"{room}.humidity", round(hum, 1), t),
                ]
            )
            total += 5
            if total >= count:
                break
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def throughput(engine: Engine, readings: list[Reading]) -> float:
    on_reading = engine.on_reading
    gc.collect()
    began = time.process_time()
    for reading in readings:
        on_reading(reading)
    return len(readings) / (time.process_time() - began)


def message_throughput(engine: Engine, messages: list[list[Reading]], batched: bool) -> float:
    """Readings/s when whole messages arrive: one at a time, or each message as one batch."""
    gc.collect()
    began = time.process_time()
    if batched:
        on_message = engine.on_message
        for message in messages:
            on_message(message)
    else:
        on_reading = engine.on_reading
        for message in messages:
            for reading in message:
                on_reading(reading)
    return sum(len(m) for m in messages) / (time.process_time() - began)


def scale(rooms: int, count: int, out: Any) -> None:
    """(in a child process) The five rules over `rooms` classrooms."""
    campus = campus_of(rooms)
    base = rss_mb()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        path.write_text(FIVE_RULES)
        wall, began = time.perf_counter(), time.process_time()
        ruleset = load_rules([path], campus)
        loaded = time.process_time()
    assert ruleset.ok, ruleset.problems
    engine = Engine(campus, ruleset, START, settle=0.0)
    engine.advance(START)
    built, wall = time.process_time(), time.perf_counter() - wall
    instances = len(engine.live_instances())
    after_load = rss_mb()
    readings = readings_for(campus, count)
    rate = throughput(engine, readings)
    del readings
    messages = messages_for(campus, count)
    one_by_one = message_throughput(engine, messages, batched=False)
    batched = message_throughput(engine, messages, batched=True)
    out.put(
        {
            "rooms": rooms,
            "rules": len(ruleset.rules),
            "instances": instances,
            "load_rules_s": round(loaded - began, 3),
            "build_engine_s": round(built - loaded, 3),
            "load_s": round(built - began, 3),
            "load_wall_s": round(wall, 3),
            "rss_campus_mb": round(base, 1),
            "rss_loaded_mb": round(after_load, 1),
            "rss_peak_mb": round(rss_mb(), 1),
            "readings": count,
            "readings_per_s": round(rate),
            "message_readings_per_s": round(one_by_one),
            "message_readings_per_s_batched": round(batched),
        }
    )


def unrelated(extra: int, count: int, out: Any) -> None:
    """(in a child process) co2 readings through one co2 rule, plus `extra` temperature rules."""
    campus = campus_of(1000)
    text = FIVE_RULES.split("  - id: ventilate-stuffy", maxsplit=1)[0]
    for i in range(extra):
        text += (
            f"  - id: too-warm-{i}\n    when: temperature > {20 + i / 100:.2f}\n"
            f"    alarm:\n      message: warm\n"
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        path.write_text(text)
        ruleset = load_rules([path], campus)
    assert ruleset.ok, ruleset.problems
    engine = Engine(campus, ruleset, START, settle=0.0)
    engine.advance(START)
    readings = [r for r in readings_for(campus, count * 2) if r.point.endswith(".co2")][:count]
    out.put(
        {
            "rules": len(ruleset.rules),
            "instances": len(engine.live_instances()),
            "readings_per_s": round(throughput(engine, readings)),
        }
    )


def in_child(target: Any, *args: Any) -> dict[str, Any]:
    queue: Any = multiprocessing.Queue()
    process = multiprocessing.Process(target=target, args=(*args, queue))
    process.start()
    result: dict[str, Any] = queue.get(timeout=900)
    process.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--readings", type=int, default=500_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"machine": machine(), "targets": TARGETS}
    figures["scale"] = big = in_child(scale, args.rooms, args.readings)
    print(
        f"{big['rooms']} rooms x {big['rules']} rules = {big['instances']} instances: "
        f"load {big['load_s']} CPU s (rules {big['load_rules_s']} s + engine "
        f"{big['build_engine_s']} s; {big['load_wall_s']} s wall), "
        f"RSS {big['rss_loaded_mb']} MB loaded "
        f"({big['rss_campus_mb']} MB for the campus alone), {big['rss_peak_mb']} MB peak "
        f"with {big['readings']} readings held in memory"
    )
    print(
        f"readings/s per CPU second: {big['readings_per_s']:,} when every reading changes a "
        f"value rules read (worst case); {big['message_readings_per_s']:,} for multisensor "
        f"messages fed one reading at a time, {big['message_readings_per_s_batched']:,} fed "
        "a message at a time (Engine.on_message)"
    )
    one = in_child(unrelated, 0, args.readings // 2)
    many = in_child(unrelated, 1000, args.readings // 2)
    figures["unrelated"] = {"one_rule": one, "plus_1000_unrelated": many}
    print(
        f"co2 readings, 1,000 rooms: {one['readings_per_s']:,}/s with {one['rules']} rule "
        f"({one['instances']} instances), {many['readings_per_s']:,}/s with {many['rules']} "
        f"rules ({many['instances']} instances): ratio "
        f"{many['readings_per_s'] / one['readings_per_s']:.2f}"
    )
    if args.json is not None:
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
