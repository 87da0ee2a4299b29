"""A three-building campus and rules for the shard tests (one room kind, simulated devices)."""

from __future__ import annotations

from tests.support.campus_yaml import one_lesson_campus

CAMPUS = one_lesson_campus(
    "shardtest",
    "Shard School",
    """\
buildings:
  - id: b1
    rooms:
      - {id: r101..r102, kind: classroom, capacity: 28, area: 60}
  - id: b2
    rooms:
      - {id: r201..r202, kind: classroom, capacity: 28, area: 60}
  - id: b3
    rooms:
      - {id: r301, kind: classroom, capacity: 28, area: 60}
""",
)

RULES = """\
rules:
  - id: purge-before-lessons
    when: during("Mon-Fri 08:10-08:40")
    set:
      ventilation: 40
    priority: schedule
  - id: lights-follow-b3
    description: b1 reads a sensor of b3 by full id (another shard's building).
    rooms: building.id == "b1"
    when: b3.r301.co2 > 0
    set:
      lights: on
  - id: co2-seen
    when: co2 > 0
    alarm:
      severity: info
      message: "CO2 {co2:.0f} ppm in {room.name}"
"""
