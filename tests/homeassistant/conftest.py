"""A real Home Assistant for the session, and r101 put back to a known state before each test."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.homeassistant import HomeAssistant, Unavailable, running_homeassistant


@pytest.fixture(scope="session")
def homeassistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    """Installs Home Assistant into its cached venv on first use, then starts it on loopback."""
    started = time.monotonic()
    try:
        with running_homeassistant(tmp_path_factory.mktemp("homeassistant")) as ha:
            print(f"Home Assistant ready in {time.monotonic() - started:.1f} s at {ha.url}")
            yield ha
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def ha(homeassistant: HomeAssistant) -> HomeAssistant:
    """The session's Home Assistant with room r101 as every test expects it to start."""
    if homeassistant.process is None:
        homeassistant.start()
    homeassistant.set_boolean("input_boolean.r101_online", True)
    homeassistant.set_boolean("input_boolean.r101_occupied", False)
    homeassistant.set_number("input_number.r101_co2", 600)
    homeassistant.set_number("input_number.r101_temperature", 21)
    homeassistant.set_number("input_number.r101_temperature_f", 68)
    homeassistant.call("light", "turn_off", entity_id="light.r101_lights")
    homeassistant.call("fan", "turn_off", entity_id="fan.r101_ventilation")
    homeassistant.call("cover", "set_cover_position", entity_id="cover.r101_blinds", position=100)
    homeassistant.call("switch", "turn_off", entity_id="switch.r101_plug")
    homeassistant.call(
        "climate", "set_temperature", entity_id="climate.r101_heating", temperature=20
    )
    return homeassistant
