"""A fixed picture of the demo campus on the control plane, for snapshot tests and docs.

Every payload is what the controller would publish (campus/wire.py's types) at one
fixed moment, Monday 2026-11-23 10:30:00 in Oslo, with a clock speed of 1, so the screens drawn
from it are the same on every run (no clock text moves within a minute). `answering` stands in
for the controller's ``trends`` and ``events`` requests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from campus import wire
from campus.clock import parse_start
from controller.controlplane_payloads import campus_message
from tests.controlplane.harness import site_campus
from tests.support.mosquitto import Broker

SITE = "snapshot"
NOW = parse_start("2026-11-23 10:30", "Europe/Oslo")
BASE = f"campusctl/{SITE}"

# room -> occupancy, co2, illuminance, temperature, humidity, lights, ventilation
ROOMS: dict[str, tuple[Any, ...]] = {
    "main.r101": (True, 1240, 420, 22.4, 41.0, True, 100),
    "main.r102": (True, 760, 280, 21.1, 38.5, True, 40),
    "main.r103": (False, 455, 610, 20.6, 36.0, False, 0),
    "main.r104": (True, 1630, 350, 23.9, 47.2, True, 100),
    "main.r105": (False, 430, 190, 19.4, 35.1, False, 0),
    "main.hall1": (False, None, 120, None, None, False, None),
    "science.lab1": (True, 910, 510, 21.8, 44.0, True, 78),
    "science.r201": (True, 980, 330, 22.0, 42.3, True, 95),
    "science.r202": (False, 520, 240, 20.2, 37.9, False, 0),
    "library.corner1": (True, 690, 160, 21.5, 40.2, False, None),
}
STALE = {"main.r105": NOW - 25 * 60}
"""Rooms whose multisensor went quiet, and since when."""
OFFLINE = {"science.r202": "lights"}
"""Rooms with an actuator whose device said it is offline."""
OVERRIDE = "main.r102.lights"


def _point(value: Any, unit: str, ts: float, quality: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "ts": ts, "age": NOW - ts, "quality": quality}


def _default(value: Any, actuator: str) -> dict[str, Any]:
    reason = f"relinquish default (slot 17): no rule or override holds {actuator}"
    return {"slot": 17, "level": "default", "value": value, "source": "default",
            "reason": reason, "since": None, "until": None}  # fmt: skip


def room_state(room_id: str) -> dict[str, Any]:
    occ, co2, lux, temp, hum, lights, vent = ROOMS[room_id]
    ts = STALE.get(room_id, NOW - 40)
    quality = "stale" if room_id in STALE else "good"
    points = {"occupancy": _point(occ, "", ts, quality),
              "illuminance": _point(lux, "lx", ts, quality)}  # fmt: skip
    if co2 is not None:
        points["co2"] = _point(co2, "ppm", ts, quality)
        points["temperature"] = _point(temp, "°C", ts, quality)
        points["humidity"] = _point(hum, "%", ts, quality)
    actuators: dict[str, Any] = {}
    lights_id = f"{room_id}.lights"
    holders = [_default(False, lights_id)]
    if lights:
        reason = (
            "rule lights-on-when-occupied-and-dark (comfort, slot 10) active since 08:14: "
            f"occupancy=true, illuminance={lux} lx"
        )
        holders.insert(0, {"slot": 10, "level": "comfort", "value": True,
                           "source": "rule:lights-on-when-occupied-and-dark", "reason": reason,
                           "since": NOW - 3600, "until": None})  # fmt: skip
    if lights_id == OVERRIDE:
        holders.insert(0, {"slot": 8, "level": "override", "value": True,
                           "source": "override:alice",
                           "reason": "override by alice until 11:30 (override, slot 8)",
                           "since": NOW - 300, "until": NOW + 3600})  # fmt: skip
    actuators["lights"] = _actuator(lights, holders, online=OFFLINE.get(room_id) != "lights")
    if vent is not None:
        vent_id = f"{room_id}.ventilation"
        holders = [_default(0.0, vent_id)]
        if vent:
            reason = (
                "rule ventilate-in-proportion (energy, slot 12) active since 08:15: "
                f"occupancy=true, co2={co2} ppm"
            )
            holders.insert(0, {"slot": 12, "level": "energy", "value": float(vent),
                               "source": "rule:ventilate-in-proportion", "reason": reason,
                               "since": NOW - 3500, "until": None})  # fmt: skip
        actuators["ventilation"] = _actuator(float(vent), holders, unit="%")
    rules = [
        {"rule": "lights-on-when-occupied-and-dark", "state": "active" if lights else "inactive",
         "since": NOW - 3600, "cause": f"{room_id}.occupancy=true"},
        {"rule": "co2-alarm", "state": "active" if co2 and co2 > 1500 else "inactive",
         "since": NOW - 1500, "cause": f"{room_id}.co2={co2} ppm"},
    ]  # fmt: skip
    return {"room": room_id, "ts": NOW, "points": points, "actuators": actuators, "rules": rules}


def _actuator(
    value: Any, holders: list[dict[str, Any]], *, unit: str = "", online: bool = True
) -> dict[str, Any]:
    winner = holders[0]
    return {
        "value": value,
        "unit": unit,
        "reported": value if online else None,
        "reported_ts": NOW - 60,
        "online": online,
        "source": winner["source"],
        "slot": winner["slot"],
        "level": winner["level"],
        "reason": winner["reason"],
        "since": winner["since"],
        "until": winner["until"],
        "holders": holders,
    }


ALARMS = [
    {"id": "co2-alarm@main.r104", "rule": "co2-alarm", "room": "main.r104",
     "severity": "warning", "message": "CO2 1630 ppm for 20 minutes in R104",
     "first_seen": NOW - 1500, "last_seen": NOW - 40, "active": True,
     "acknowledged_by": None, "acknowledged_at": None},
    {"id": "co2-alarm@main.r101", "rule": "co2-alarm", "room": "main.r101",
     "severity": "warning", "message": "CO2 1520 ppm for 20 minutes in R101",
     "first_seen": NOW - 2700, "last_seen": NOW - 900, "active": False,
     "acknowledged_by": "bob", "acknowledged_at": NOW - 600},
]  # fmt: skip

RULES = [
    ("lights-on-when-occupied-and-dark", "comfort", 9, {"active": 6, "inactive": 3}, ["lights"]),
    ("corridor-lights-on-motion", "comfort", 1, {"inactive": 1}, ["lights"]),
    ("ventilate-in-proportion", "energy", 8, {"active": 5, "inactive": 3}, ["ventilation"]),
    ("ventilate-stuffy-classrooms", "comfort", 8, {"pending": 1, "inactive": 7}, ["ventilation"]),
    ("co2-alarm", "comfort", 9, {"active": 1, "inactive": 8}, []),
]


def rules_payload() -> dict[str, Any]:
    rules = []
    for rule_id, level, rooms, states, sets in RULES:
        rules.append(
            {
                "id": rule_id,
                "description": f"The demo rule {rule_id}.",
                "level": level,
                "priority": 10,
                "enabled": rule_id != "corridor-lights-on-motion",
                "rooms": list(ROOMS)[:rooms],
                "skipped": [],
                "sets": sets,
                "alarm": "warning" if rule_id == "co2-alarm" else None,
                "states": states,
                "transitions": [
                    {
                        "type": "transition",
                        "ts": NOW - 1500,
                        "rule": rule_id,
                        "room": "main.r104",
                        "old_state": "pending",
                        "new_state": "active",
                        "cause": "held 1200s",
                    },
                ],
                "file": f"examples/rules/{rule_id}.yaml:3:9",
            }
        )
    return {"rules": rules, "problems": []}


EVENTS = [
    {"type": "transition", "event_id": "snap-1", "ts": NOW - 1500, "rule": "co2-alarm",
     "room": "main.r104", "old_state": "pending", "new_state": "active", "cause": "held 1200s"},
    {"type": "alarm", "event_id": "snap-2", **ALARMS[0], "ts": NOW - 1500},
    {"type": "audit", "event_id": "snap-3", "ts": NOW - 300, "who": "alice", "action": "override",
     "detail": "main.r102.lights = on for 3900 s"},
    {"type": "command", "event_id": "snap-4", "ts": NOW - 300, "room": "main.r102",
     "actuator": "main.r102.lights", "name": "lights", "value": True, "source": "override:alice",
     "slot": 8,
     "reason": "override by alice until 11:30 (override, slot 8)"},
    {"type": "command", "event_id": "snap-5", "ts": NOW - 120, "room": "science.r201",
     "actuator": "science.r201.ventilation", "name": "ventilation", "value": 95.0,
     "source": "rule:ventilate-in-proportion", "slot": 12,
     "reason": "rule ventilate-in-proportion (energy, slot 12) active since 08:15: "
               "occupancy=true, co2=980 ppm"},
]  # fmt: skip


def retained() -> dict[str, Any]:
    """Topic -> payload of everything the controller keeps retained."""
    campus = site_campus(SITE)
    out: dict[str, Any] = {
        f"{BASE}/status": "online",
        f"{BASE}/controller": {
            "site": SITE,
            "name": campus.site.name,
            "timezone": campus.site.timezone,
            "now": NOW,
            "speed": 1.0,
            "started": NOW - 9000,
            "rooms": 10,
            "rules": 5,
            "readings": 51234,
            "commands": 812,
            "heartbeat": 5.0,
        },
        f"{BASE}/campus": json.loads(wire.encode(campus_message(campus))),
        f"{BASE}/alarms": {"ts": NOW, "alarms": ALARMS},
        f"{BASE}/rules": rules_payload(),
    }
    for room in campus.rooms:
        out[f"{BASE}/room/{room.building}/{room.key}"] = room_state(room.id)
    return out


def publish(broker: Broker, messages: dict[str, Any], *, retain: bool) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for topic, payload in messages.items():
            data = payload if isinstance(payload, str) else json.dumps(payload)
            client.publish(topic, data, qos=1, retain=retain).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def publish_site(broker: Broker) -> None:
    """Put the fixed site on the broker (retained), replacing what an earlier test left."""
    publish(broker, retained(), retain=True)


def publish_events(broker: Broker) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for event in EVENTS:
            client.publish(f"{BASE}/events", json.dumps(event), qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def trends(room_id: str) -> dict[str, Any]:
    """A room's last hour as the ``trends`` request answers it: nothing for the first 5 minutes,
    the room changing from empty to occupied (or back) 40 minutes ago, CO2 rising to now."""
    occ, co2, lux, temp, hum, _, _ = ROOMS[room_id]
    points: dict[str, list[float | None]] = {
        "occupancy": [float((m >= 20) == occ) for m in range(60)],
        "illuminance": [float(lux if m >= 20 else lux // 2) for m in range(60)],
    }
    if co2 is not None:
        points["co2"] = [round(co2 * (0.6 + 0.4 * m / 59)) for m in range(60)]
        points["temperature"] = [round(temp - 1 + m / 59, 1) for m in range(60)]
        points["humidity"] = [hum] * 60
    for values in points.values():
        values[:5] = [None] * 5
    return {"room": room_id, "end": NOW, "step": 60.0, "points": points}


@contextmanager
def answering(broker: Broker) -> Iterator[None]:
    """Answer the TUI's ``trends`` and ``events`` requests on the fixed site as its controller
    would (with `trends` and `EVENTS`); other requests get an error."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    subscribed = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        name = msg.topic.rpartition("/")[2]
        body = json.loads(msg.payload)
        answer: dict[str, Any] = {"status": "ok", "error": None, "data": None,
                                  "transaction": body.get("transaction")}  # fmt: skip
        if name == "trends":
            answer["data"] = trends(body["room"])
        elif name == "events":
            answer["data"] = {"events": EVENTS}
        else:
            answer.update(status="error", error=f"the fixed site does not {name}")
        client.publish(f"{BASE}/response/{name}", json.dumps(answer), qos=1)

    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(broker.host, broker.port)
    client.subscribe(f"{BASE}/request/+", qos=1)
    client.loop_start()
    try:
        if not subscribed.wait(5):
            raise TimeoutError("the fixed site's answering client did not subscribe")
        yield
    finally:
        client.disconnect()
        client.loop_stop()
