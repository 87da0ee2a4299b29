"""The test campus bound to the r101 entities of tests/support/homeassistant.py, and helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from campus.clock import VirtualClock
from campus.config import load_campus
from campus.model import Campus
from campus.types import Reading
from drivers.homeassistant import HaSettings, HomeAssistantDriver
from tests.support.homeassistant import HomeAssistant

T0 = 1_800_000_000.0

CAMPUS = """\
site: {{id: hatest, name: HA test school, timezone: Europe/Oslo}}
homeassistant: {{url: "{url}", token_file: ha-token}}
kinds:
  classroom:
    points:
      co2: {{unit: ppm, range: [0, 10000], homeassistant: {{entity: "sensor.{{room}}_co2"}}}}
      temperature: {{unit: °C, homeassistant: {{entity: "sensor.{{room}}_temperature"}}}}
      temperature_f: {{unit: °C, homeassistant: {{entity: "sensor.{{room}}_temperature_f"}}}}
      noise: {{unit: dBA, homeassistant: {{entity: "sensor.{{room}}_noise"}}}}
      occupancy: {{type: bool, homeassistant: {{entity: "binary_sensor.{{room}}_occupancy"}}}}
      heating_now:
        unit: °C
        homeassistant: {{entity: "climate.{{room}}_heating", attribute: current_temperature}}
    actuators:
      lights: {{type: level, default: 0, homeassistant: {{entity: "light.{{room}}_lights"}}}}
      ventilation:
        type: level
        default: 0
        homeassistant: {{entity: "fan.{{room}}_ventilation"}}
      blinds:
        type: level
        default: 0
        homeassistant: {{entity: "cover.{{room}}_blinds", invert: true}}
      heating_setpoint:
        type: level
        unit: °C
        range: [5, 40]
        default: 20
        homeassistant: {{entity: "climate.{{room}}_heating"}}
      plug: {{type: switch, default: off, homeassistant: {{entity: "switch.{{room}}_plug"}}}}
      ghost: {{type: switch, default: off, homeassistant: {{entity: "light.{{room}}_ghost"}}}}
buildings:
  - id: b1
    rooms: [{{id: r101, kind: classroom}}]
"""
"""Every domain the driver maps, a unit conversion (°F), a unit it cannot match (dB vs dBA),
an attribute, an inverted cover, and an entity Home Assistant does not have (ghost)."""


def make_campus(tmp_path: Path, ha: HomeAssistant, token: str | None = None) -> Campus:
    """The test campus on `ha`, its token (or `token`) in a file beside campus.yaml."""
    return campus_at(tmp_path, ha.url, ha.token if token is None else token)


def campus_at(tmp_path: Path, url: str, token: str) -> Campus:
    (tmp_path / "ha-token").write_text(token + "\n")
    path = tmp_path / "campus.yaml"
    path.write_text(CAMPUS.format(url=url))
    return load_campus(path)


def fast_settings(campus: Campus) -> HaSettings:
    """The campus's settings with a quick reconnect, so a restarted HA is found in ~0.5 s."""
    assert campus.homeassistant is not None
    site = campus.homeassistant
    return HaSettings(
        url=site.url,
        token_env=site.token_env,
        token_file=site.token_file,
        reconnect_min=0.1,
        reconnect_max=0.5,
    )


@asynccontextmanager
async def running(campus: Campus) -> AsyncIterator[tuple[HomeAssistantDriver, VirtualClock]]:
    """A connected driver for `campus` on a virtual clock."""
    clock = VirtualClock(T0)
    async with HomeAssistantDriver(campus, fast_settings(campus), clock) as driver:
        async with asyncio.timeout(20):
            await driver.wait_connected()
        yield driver, clock


async def readings_until(
    driver: HomeAssistantDriver, predicate: Callable[[dict[str, Reading]], bool], within: float = 10
) -> dict[str, Reading]:
    """Read batches until `predicate(latest reading per id)` holds; return that view."""
    latest: dict[str, Reading] = {}
    try:
        async with asyncio.timeout(within):
            while not predicate(latest):
                for message in await driver.readings.get():
                    for reading in message:
                        latest[reading.point] = reading
    except TimeoutError:
        raise AssertionError(
            f"timed out after {within} s; {driver.stats}; latest readings: {latest}"
        ) from None
    return latest


def value(latest: dict[str, Reading], name: str) -> object:
    """The latest value of b1.r101.<name> (None when absent or unknown)."""
    reading = latest.get(f"b1.r101.{name}")
    return None if reading is None else reading.value
