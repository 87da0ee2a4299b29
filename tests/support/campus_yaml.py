"""The small one-lesson campus the end-to-end, fault and shard tests share."""

from __future__ import annotations

KINDS = """\
timetable:
  - days: Mon-Fri
    periods: {lesson-1: "08:15-09:00"}
kinds:
  classroom:
    points:
      occupancy:
        type: bool
        stale_after: 10m
        mqtt: &ms {topic: "zigbee2mqtt/{building}-{room}-ms"}
      illuminance: {unit: lx, range: [0, 150000], stale_after: 10m, mqtt: *ms}
      co2: {unit: ppm, range: [250, 10000], stale_after: 10m, mqtt: *ms}
    actuators:
      lights: {type: switch, default: off, mqtt: {topic: "zigbee2mqtt/{building}-{room}-light"}}
      ventilation:
        type: level
        default: 0
        mqtt: {topic: "zigbee2mqtt/{building}-{room}-fan", key: percentage}
"""


def one_lesson_campus(site: str, name: str, buildings: str) -> str:
    """campus.yaml text: site `site`, classrooms with a multisensor, a light and a fan, one
    lesson 08:15-09:00 on weekdays, and the given ``buildings:`` block."""
    return f"site: {{id: {site}, name: {name}, timezone: Europe/Oslo}}\n{KINDS}{buildings}"


FAN_AND_LIGHT_RULES = """\
rules:
  - id: fan
    rooms: kind == "classroom"
    when: occupancy and co2 > 1000
    until: co2 < 800 or not occupancy
    set:
      ventilation: 100
  - id: lights
    rooms: kind == "classroom"
    when: occupancy and illuminance < 300
    until: not occupancy
    set:
      lights: on
"""
"""The campus-load benchmark's two rules (hysteresis on CO2, lights while occupied and dark)
for classrooms whose ventilation is a level."""
