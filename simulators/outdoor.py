"""Outdoor conditions the simulated rooms respond to: sun, sky light, temperature, humidity, CO2.

Everything is a pure function of the time, the site and a seed, so two runs with the same seed see
the same weather. Sources (docs/domain.md §3): the IES 1984 daylight availability model for sky
and sun illuminance; outdoor CO2 ≈ 420 ppm. The sun's position follows NOAA's "General Solar
Position Calculations" (Spencer's series for declination and the equation of time), good to a few
tenths of a degree, which is far below what a daylight factor can resolve. The temperature and
humidity climate is provisional (a smooth annual and daily cycle, not from a source).
"""

from __future__ import annotations

import calendar
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from campus.model import Site

OUTDOOR_CO2_PPM = 420.0
"""Background CO2 (domain.md §3: C_out in the mass balance)."""

SOLAR_ILLUMINANCE_KLX = 127.5
"""IES 1984: extraterrestrial solar illuminance at normal incidence."""
CLEAR_EXTINCTION = 0.21
"""IES 1984: clear-sky atmospheric extinction coefficient (E_dn = 127.5·e^(−0.21·m) klx)."""
CLEAR_SKY = (0.8, 15.5, 0.5)
"""IES 1984 clear sky, horizontal diffuse: A + B·sin(α)^c klx."""
OVERCAST_SKY = (0.3, 21.0, 1.0)
"""IES 1984 overcast sky, horizontal: A + B·sin(α)^c klx (no direct sun)."""

ANNUAL_MEAN_C = 6.0
"""Provisional climate (about Oslo): annual mean, seasonal and daily swing, coldest day."""
SEASONAL_SWING_C = 10.0
DAILY_SWING_C = 3.0
COLDEST_DAY = 20
OUTDOOR_RH = 80.0
"""Provisional outdoor relative humidity, %."""


@dataclass(frozen=True, slots=True)
class Outdoor:
    """The outdoor state at one instant."""

    t: float
    sun_altitude: float
    """Degrees above the horizon (negative at night)."""
    sun_azimuth: float
    """Degrees from north, clockwise."""
    cloud: float
    """0 = clear sky, 1 = overcast."""
    illuminance: float
    """Global horizontal illuminance, lux."""
    temperature: float
    """°C."""
    humidity: float
    """Relative humidity, %."""
    vapour: float
    """Absolute humidity, g/m³ (what ventilation carries into a room)."""
    co2: float = OUTDOOR_CO2_PPM


def sun_position(t: float, latitude: float, longitude: float) -> tuple[float, float]:
    """(altitude, azimuth) of the sun in degrees at POSIX time `t` (NOAA general solar position)."""
    moment = datetime.fromtimestamp(t, UTC)
    hour_utc = (t % 86400.0) / 3600.0
    days_in_year = 366.0 if calendar.isleap(moment.year) else 365.0
    gamma = (
        2.0 * math.pi / days_in_year * (moment.timetuple().tm_yday - 1 + (hour_utc - 12.0) / 24.0)
    )
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    true_solar_minutes = hour_utc * 60.0 + eqtime + 4.0 * longitude
    hour_angle = math.radians(true_solar_minutes / 4.0 - 180.0)
    lat = math.radians(latitude)
    sin_alt = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)
    altitude = math.degrees(math.asin(max(-1.0, min(1.0, sin_alt))))
    azimuth = math.degrees(
        math.atan2(
            -math.sin(hour_angle),
            math.tan(decl) * math.cos(lat) - math.sin(lat) * math.cos(hour_angle),
        )
    )
    return altitude, azimuth % 360.0


def air_mass(altitude: float) -> float:
    """Relative optical air mass (Kasten & Young 1989), finite down to the horizon."""
    return 1.0 / (
        math.sin(math.radians(altitude)) + 0.50572 * math.pow(max(altitude, 0.0) + 6.07995, -1.6364)
    )


def sky_illuminance(altitude: float, cloud: float) -> float:
    """Global horizontal illuminance in lux: the IES 1984 model blended between clear and overcast.

    Clear: diffuse 0.8 + 15.5·sin(α)^0.5 klx plus direct sun 127.5·e^(−0.21·m)·sin(α) klx.
    Overcast: 0.3 + 21.0·sin(α) klx. Zero with the sun below the horizon (twilight is ignored: a
    classroom at dusk is lit by its lamps anyway).
    """
    if altitude <= 0.0:
        return 0.0
    s = math.sin(math.radians(altitude))
    a, b, c = CLEAR_SKY
    direct = SOLAR_ILLUMINANCE_KLX * math.exp(-CLEAR_EXTINCTION * air_mass(altitude)) * s
    clear = a + b * math.pow(s, c) + direct
    a, b, c = OVERCAST_SKY
    overcast = a + b * math.pow(s, c)
    return 1000.0 * (cloud * overcast + (1.0 - cloud) * clear)


def saturation_vapour(temperature: float) -> float:
    """Saturation absolute humidity in g/m³ at `temperature` °C (Magnus formula over water)."""
    pressure = 611.2 * math.exp(17.62 * temperature / (243.12 + temperature))
    return 1000.0 * pressure / (461.5 * (temperature + 273.15))


class Weather:
    """Deterministic outdoor conditions for one site: the same seed gives the same sky.

    `cloud` fixes the cloud cover (0 clear .. 1 overcast) instead of drawing it per day and hour;
    `co2` is the background CO2 the rooms are aired with.
    """

    def __init__(
        self, site: Site, seed: int, *, cloud: float | None = None, co2: float = OUTDOOR_CO2_PPM
    ) -> None:
        if cloud is not None and not 0.0 <= cloud <= 1.0:
            raise ValueError(f"cloud cover must be within 0..1, got {cloud}")
        self.site = site
        self.seed = seed
        self.cloud = cloud
        self.co2 = co2
        self._hourly: dict[int, tuple[float, float]] = {}

    def at(self, t: float) -> Outdoor:
        altitude, azimuth = sun_position(t, self.site.latitude, self.site.longitude)
        cloud, offset = self._hour_mix(t)
        if self.cloud is not None:
            cloud = self.cloud
        temperature = self._temperature(t) + offset
        vapour = OUTDOOR_RH / 100.0 * saturation_vapour(temperature)
        return Outdoor(
            t=t,
            sun_altitude=altitude,
            sun_azimuth=azimuth,
            cloud=cloud,
            illuminance=sky_illuminance(altitude, cloud),
            temperature=temperature,
            humidity=OUTDOOR_RH,
            vapour=vapour,
            co2=self.co2,
        )

    def _temperature(self, t: float) -> float:
        """A smooth annual cycle (coldest near 20 January up north) plus a daily one peaking at 15h
        local solar time."""
        day = (t / 86400.0) % 365.25
        season = math.cos(2.0 * math.pi * (day - COLDEST_DAY) / 365.25)
        if self.site.latitude < 0:
            season = -season
        solar_hour = (t / 3600.0 + self.site.longitude / 15.0) % 24.0
        daily = math.cos(2.0 * math.pi * (solar_hour - 15.0) / 24.0)
        return ANNUAL_MEAN_C - SEASONAL_SWING_C * season + DAILY_SWING_C * daily

    def _hour_mix(self, t: float) -> tuple[float, float]:
        """Cloud cover and a temperature offset, drawn per hour and interpolated in between."""
        hour = math.floor(t / 3600.0)
        frac = t / 3600.0 - hour
        c0, o0 = self._hour(hour)
        c1, o1 = self._hour(hour + 1)
        return c0 + (c1 - c0) * frac, o0 + (o1 - o0) * frac

    def _hour(self, hour: int) -> tuple[float, float]:
        cached = self._hourly.get(hour)
        if cached is None:
            day = hour // 24
            day_rng = random.Random(f"{self.seed}:sky:{day}")
            base = day_rng.random()
            offset = day_rng.gauss(0.0, 2.0)
            rng = random.Random(f"{self.seed}:sky:{day}:{hour}")
            cloud = min(1.0, max(0.0, base + rng.uniform(-0.2, 0.2)))
            cached = (cloud, offset + rng.gauss(0.0, 0.3))
            if len(self._hourly) > 256:
                self._hourly.clear()
            self._hourly[hour] = cached
        return cached
