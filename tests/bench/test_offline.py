"""The closed loop without a broker (controller.offline): simulated devices and the rules
engine on virtual time."""

from __future__ import annotations

from pathlib import Path

import pytest

from campus.types import Command
from controller.cli import main
from controller.offline import OfflineLoop
from rules.loader import load_rules
from simulators.scenario import load_scenario
from simulators.world import World

ROOT = Path(__file__).resolve().parents[2]


def test_a_winter_day_lights_and_airs_the_occupied_classrooms() -> None:
    scenario = load_scenario(ROOT / "examples" / "scenarios" / "winter-day.yaml")
    campus = scenario.campus
    rules = load_rules([ROOT / "examples" / "rules"], campus)
    assert scenario.start is not None
    world = World(campus, scenario.seed, scenario.start, conditions=scenario.conditions)
    commands: list[Command] = []
    loop = OfflineLoop(campus, rules, world, on_command=commands.append)
    lit_while_occupied = occupied = 0

    def sample(now: float) -> None:
        nonlocal lit_while_occupied, occupied
        if int(now) % 60:
            return
        for room in campus.rooms:
            truth = world.truth(room.id)
            if room.kind == "classroom" and truth.occupants:
                occupied += 1
                lit_while_occupied += truth.lights == 1.0

    loop.run_until(scenario.start + 12 * 3600, every=sample)  # 06:00 to 18:00
    assert loop.readings > 1000
    assert occupied > 0
    # Overcast November: every occupied minute needs light; the PIR's first detection and the
    # 30 s minimum switch interval may take a minute.
    assert lit_while_occupied / occupied > 0.97
    sources = {c.source for c in commands}
    assert "rule:lights-on-when-occupied-and-dark" in sources
    assert any(c.actuator.endswith(".ventilation") and c.value for c in commands)
    # At 18:00 everyone has left: lights off, fans off.
    for room in campus.rooms:
        truth = world.truth(room.id)
        assert truth.occupants == 0
        assert truth.lights == 0.0, room.id
        assert truth.ventilation == 0.0, room.id
    assert loop.bad_payloads == 0


def test_simulate_without_a_broker_prints_what_the_campus_used(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = ROOT / "examples" / "scenarios" / "winter-day.yaml"
    argv = ["--log-level", "warning", "simulate", "--scenario", str(scenario), "--no-broker"]
    assert main([*argv, "--days", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "2026-11-23 06:00 + 0.2 days" in out
    assert "x real time" in out
    assert "13 rooms" in out
    assert main([*argv, "--days", "0"]) == 1
