"""A fixed district on one broker, for the district view's pilot and snapshot tests: the fixed
site (tests/tui/fixed_site.py, whose views the district drills into) and two more schools with
only what the portfolio reads: status, the bridge's link state, the controller, the KPIs and
the alarm list. The same moment as the fixed site, Monday 2026-11-23 10:30 in Oslo."""

from __future__ import annotations

import json
from typing import Any

from campus import wire
from tests.support.mosquitto import Broker
from tests.tui.fixed_site import NOW, SITE, publish, retained

SCHOOLS = {
    # site: name (the fixed site's is its controller's), link up, online, rooms, in use,
    # CO2 <= 1000 share, kWh
    SITE: ("", True, True, 10, 6, 0.91, 12.4),
    "north": ("North School", False, True, 8, 5, 0.97, 6.2),
    "south": ("South School", True, False, 20, 14, 0.72, 31.0),
}
SOUTH_ALARM = {
    "id": "co2-alarm@b1.r104", "rule": "co2-alarm", "room": "b1.r104", "severity": "critical",
    "message": "CO2 2100 ppm for 20 minutes in R104", "first_seen": NOW - 900,
    "last_seen": NOW - 60, "active": True, "acknowledged_by": None, "acknowledged_at": None,
}  # fmt: skip


def kpi(site: str, rooms: int, in_use: int, share: float, kwh: float) -> dict[str, Any]:
    minutes = 600
    good = round(minutes * share)
    ours = int(site == SITE)
    alarms = {"warning": 1} if ours else {"critical": 1} if site == "south" else {}
    message = wire.KpiMessage(
        site=site, shard="", ts=NOW, day="2026-11-23", rooms=rooms, area_m2=rooms * 60.0,
        rooms_in_use=in_use, occupied_minutes=minutes, co2_minutes=minutes,
        co2_within_1000_minutes=good, co2_within_1400_minutes=minutes,
        co2_within_1000=wire.share(good, minutes), co2_within_1400=1.0,
        worst_room=f"b1.r{100 + in_use}", worst_co2=900 + 40 * in_use, temperature_minutes=minutes,
        temperature_comfort_minutes=minutes - 30, temperature_comfort=(minutes - 30) / minutes,
        alarms=alarms, alarms_unacknowledged=sum(alarms.values()), overrides=ours,
        overrides_over_4h=0, lights_kwh=kwh * 0.6,
        ventilation_kwh=kwh * 0.4, outside_timetable_kwh=kwh * 0.1, lights_kwh_last_week=None,
        ventilation_kwh_last_week=None, uptime_s=9000.0,
    )  # fmt: skip
    return json.loads(wire.encode(message))  # type: ignore[no-any-return]


def district_retained() -> dict[str, Any]:
    out = retained()
    for site, (name, link, online, rooms, in_use, share, kwh) in SCHOOLS.items():
        base = f"campusctl/{site}"
        if site != SITE:
            out[f"{base}/controller"] = {
                **out[f"campusctl/{SITE}/controller"], "site": site, "name": name,
                "rooms": rooms, "now": NOW - 1500 if not online else NOW,
            }  # fmt: skip
            out[f"{base}/alarms"] = {"ts": NOW, "alarms": [SOUTH_ALARM] if site == "south" else []}
        out[f"{base}/status"] = "online" if online else "offline"
        out[f"{base}/bridge"] = "1" if link else "0"
        out[f"{base}/kpi"] = kpi(site, rooms, in_use, share, kwh)
    return out


def publish_district(broker: Broker) -> None:
    """Put the fixed district on `broker` (retained)."""
    publish(broker, district_retained(), retain=True)
