"""Physics of one room: CO2, illuminance, temperature, humidity and the energy the room uses.

Pure and deterministic: the state changes only through `RoomPhysics.advance`, which integrates
every balance in closed form over the step (first-order, constant inputs within a step), so a step
of an hour is as stable as a step of a second. Equations and parameters come from
docs/domain.md §2-3 unless marked provisional:

- CO2: dC/dt = 10⁶·ΣG/V + (Q/V)(C_out − C); C_ss = C_out + 10⁶·G/Q, τ = V/Q.
- G per person from Persily & de Jonge 2017 (Indoor Air 27:868, Table 4), mean of male and
  female, in L/s at 273 K scaled by T/273.
- Q = infiltration (0.1 h⁻¹ with the fans off, Batterman 2017) + ventilation fraction × design
  airflow. Design airflow = 8 L/s per person of capacity + 0.6 L/s·m² (ASHRAE 62.1-2016's area
  term), so a full room at full fan stays below 1000 ppm (BB101 2018).
- Daylight: indoor = DF × outdoor global illuminance (IES 1984 sky, see `simulators.outdoor`),
  DF 2-5 % by facade orientation; blinds cut it to 10 % when fully closed.
- Electric light ≈ 500 lx at full output in teaching rooms (EN 12464-1 boards 500 lx), power
  W/m² = E/(η·CU·MF) with η 130 lm/W, CU 0.6, MF 0.8 (≈ 8 W/m² at 500 lx).
- Fans: P = SFP·Q with SFP 1500 W/(m³/s) (domain.md's example; EN 16798-3 class SFP4).
- Temperature (provisional): one thermal mass, envelope loss UA, ventilation loss with 75 %
  heat recovery, a proportional heater toward the set-point, sensible gains from people, lamps and
  daylight. Humidity (provisional): a vapour balance of the same form as CO2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from campus.model import Room
from simulators.outdoor import Outdoor, saturation_vapour


class Age(StrEnum):
    CHILD = "child"
    """6-11 years."""
    TEEN = "teen"
    """11-16 years."""
    ADULT = "adult"


class Activity(StrEnum):
    """What the people in a room are doing: sets their metabolic rate and how a PIR sees them."""

    QUIET = "quiet"
    """Tests, silent work: seated and still."""
    READING = "reading"
    SEATED = "seated"
    """An ordinary lesson."""
    ACTIVE = "active"
    """Lab work, teaching at the board."""
    WALKING = "walking"


CO2_GENERATION = {
    (Age.CHILD, 1.2): 0.00285,
    (Age.CHILD, 1.4): 0.00335,
    (Age.TEEN, 1.4): 0.00445,
    (Age.ADULT, 1.4): 0.0047,
    (Age.ADULT, 2.0): 0.00675,
}
"""L/s per person at 273 K (Persily & de Jonge 2017, Table 4; mean of male and female)."""

MET = {
    Age.CHILD: {Activity.QUIET: 1.2, Activity.READING: 1.2},
    Age.TEEN: {},
    Age.ADULT: {Activity.ACTIVE: 2.0, Activity.WALKING: 2.0},
}
"""Metabolic rate by age and activity; unlisted pairs are 1.4 met (the table's common column)."""

SENSIBLE_HEAT_W = {Age.CHILD: 55.0, Age.TEEN: 65.0, Age.ADULT: 75.0}
"""Provisional sensible heat per person, W (ASHRAE Fundamentals' seated values, scaled by size)."""
VAPOUR_G_PER_S = {Age.CHILD: 0.008, Age.TEEN: 0.010, Age.ADULT: 0.011}
"""Provisional moisture release per person, g/s (about 30-40 g/h seated)."""

PUPIL_AGE = {"classroom": Age.CHILD, "lab": Age.TEEN, "library": Age.TEEN, "corridor": Age.CHILD}
"""Who the pupils in a room kind are; other kinds hold adults."""

DESIGN_LPS_PER_PERSON = 8.0
DESIGN_LPS_PER_M2 = 0.6
INFILTRATION_ACH = 0.1
HEAT_RECOVERY = 0.75
"""Provisional: a Nordic air-handling unit's heat recovery efficiency."""
SFP = 1500.0
"""Specific fan power, W/(m³/s) (domain.md §3 Fan)."""

DAYLIGHT_FACTOR = {
    "S": 0.05,
    "SE": 0.045,
    "SW": 0.045,
    "E": 0.035,
    "W": 0.035,
    "NE": 0.025,
    "NW": 0.025,
    "N": 0.02,
}
"""Daylight factor by facade orientation (domain.md: DF 2-5 %); interior rooms get none."""
BLINDS_CLOSED_TRANSMISSION = 0.1
ELECTRIC_LUX = {"corridor": 200.0}
"""Illuminance at full electric light; teaching rooms 500 lx (the default)."""
DEFAULT_ELECTRIC_LUX = 500.0
LAMP_EFFICACY = 130.0
COEFF_UTILISATION = 0.6
MAINTENANCE_FACTOR = 0.8
DAYLIGHT_EFFICACY = 110.0
"""lm/W of daylight: turns transmitted daylight into a solar heat gain."""

THERMAL_CAPACITY_J_PER_K_M2 = 60_000.0
"""Provisional effective heat capacity per m² of floor (air, furniture, part of the structure)."""
ENVELOPE_UA_W_PER_K_M2 = 1.2
HEATER_W_PER_M2 = 70.0
HEATER_BAND_K = 1.0
"""The heater gives full power 1 K below the set-point, none at it."""
AIR_HEAT_J_PER_K_M3 = 1.2 * 1005.0
DEFAULT_SETPOINT = 21.0


def co2_generation(age: Age, activity: Activity, temperature: float) -> float:
    """CO2 one person releases, L/s at the room temperature (Persily & de Jonge: × T/273)."""
    met = MET[age].get(activity, 1.4)
    return CO2_GENERATION[(age, met)] * (temperature + 273.15) / 273.15


def relax(x: float, target: float, rate: float, dt: float) -> float:
    """Exact solution of dx/dt = rate·(target − x) after `dt` with constant inputs."""
    return target + (x - target) * math.exp(-rate * dt)


@dataclass(frozen=True, slots=True)
class Occupants:
    """Who is in a room: pupils of the room kind's age and adults, each group with its activity."""

    pupils: int = 0
    adults: int = 0
    pupil_activity: Activity = Activity.SEATED
    adult_activity: Activity = Activity.SEATED

    @property
    def total(self) -> int:
        return self.pupils + self.adults


NOBODY = Occupants()


@dataclass(frozen=True, slots=True)
class Drive:
    """What the actuators do to the room, decoded to physical terms."""

    lights: float = 0.0
    """0..1 of full light output."""
    ventilation: float = 0.0
    """0..1 of design airflow."""
    blinds: float = 0.0
    """0..1 closed."""
    setpoint: float = DEFAULT_SETPOINT
    """Heating set-point, °C."""


@dataclass(frozen=True, slots=True)
class RoomParams:
    """Constants of one room derived from its size, kind and facade."""

    area: float
    volume: float
    pupil_age: Age
    design_airflow: float
    """L/s at 100 % ventilation."""
    infiltration: float
    """L/s with the fans off."""
    daylight_factor: float
    electric_lux: float
    lighting_power: float
    """W at full light."""
    thermal_capacity: float
    ua: float
    heater_power: float

    @classmethod
    def for_room(cls, room: Room) -> RoomParams:
        """Parameters from the room model; a room without an area gets 2 m² per place (min 20)."""
        area = room.area if room.area > 0 else max(2.0 * room.capacity, 20.0)
        volume = area * room.height
        electric_lux = ELECTRIC_LUX.get(room.kind, DEFAULT_ELECTRIC_LUX)
        return cls(
            area=area,
            volume=volume,
            pupil_age=PUPIL_AGE.get(room.kind, Age.ADULT),
            design_airflow=DESIGN_LPS_PER_PERSON * room.capacity + DESIGN_LPS_PER_M2 * area,
            infiltration=INFILTRATION_ACH * volume / 3.6,
            daylight_factor=DAYLIGHT_FACTOR.get(room.orientation.upper(), 0.0),
            electric_lux=electric_lux,
            lighting_power=area
            * electric_lux
            / (LAMP_EFFICACY * COEFF_UTILISATION * MAINTENANCE_FACTOR),
            thermal_capacity=THERMAL_CAPACITY_J_PER_K_M2 * area,
            ua=ENVELOPE_UA_W_PER_K_M2 * area,
            heater_power=HEATER_W_PER_M2 * area,
        )


def daylight(params: RoomParams, outdoor: Outdoor, blinds: float) -> float:
    """Daylight on the working plane, lux: DF × outdoor global illuminance, less what blinds
    stop."""
    transmission = 1.0 - (1.0 - BLINDS_CLOSED_TRANSMISSION) * blinds
    return params.daylight_factor * outdoor.illuminance * transmission


def illuminance(params: RoomParams, outdoor: Outdoor, drive: Drive) -> float:
    """Daylight plus electric light (scaled by the dim level), lux, without sensor noise."""
    return daylight(params, outdoor, drive.blinds) + params.electric_lux * drive.lights


@dataclass(slots=True)
class RoomPhysics:
    """The physical state of one room and the energy it has used so far."""

    params: RoomParams
    co2: float
    temperature: float
    vapour: float
    """Absolute humidity, g/m³."""
    lighting_wh: float = 0.0
    fan_wh: float = 0.0
    heating_wh: float = 0.0

    @classmethod
    def initial(cls, params: RoomParams, outdoor: Outdoor, setpoint: float) -> RoomPhysics:
        """An empty room that has been at its set-point for a while."""
        return cls(params, co2=outdoor.co2, temperature=setpoint, vapour=outdoor.vapour)

    @property
    def humidity(self) -> float:
        """Relative humidity, %."""
        return min(100.0, 100.0 * self.vapour / saturation_vapour(self.temperature))

    def airflow(self, drive: Drive) -> float:
        """Outdoor air reaching the room, L/s."""
        return self.params.infiltration + drive.ventilation * self.params.design_airflow

    def advance(self, dt: float, people: Occupants, outdoor: Outdoor, drive: Drive) -> None:
        """Move the room `dt` seconds forward with people, weather and actuators held constant."""
        if dt <= 0:
            return
        p = self.params
        pupil_age = p.pupil_age
        g = people.pupils * co2_generation(pupil_age, people.pupil_activity, self.temperature)
        g += people.adults * co2_generation(Age.ADULT, people.adult_activity, self.temperature)
        q = self.airflow(drive)
        rate = q / 1000.0 / p.volume
        self.co2 = relax(self.co2, outdoor.co2 + 1e6 * g / q, rate, dt)

        moisture = people.pupils * VAPOUR_G_PER_S[pupil_age]
        moisture += people.adults * VAPOUR_G_PER_S[Age.ADULT]
        vapour = relax(self.vapour, outdoor.vapour + moisture / (q / 1000.0), rate, dt)

        vent = drive.ventilation * p.design_airflow / 1000.0
        lamps = drive.lights * p.lighting_power
        gains = (
            people.pupils * SENSIBLE_HEAT_W[pupil_age]
            + people.adults * SENSIBLE_HEAT_W[Age.ADULT]
            + lamps
            + daylight(p, outdoor, drive.blinds) * p.area / DAYLIGHT_EFFICACY
        )
        loss = p.ua + AIR_HEAT_J_PER_K_M3 * (p.infiltration / 1000.0 + vent * (1.0 - HEAT_RECOVERY))
        heat_j = self._heat(dt, gains, loss, outdoor.temperature, drive.setpoint)
        self.vapour = min(vapour, saturation_vapour(self.temperature))

        self.lighting_wh += lamps * dt / 3600.0
        self.fan_wh += SFP * vent * dt / 3600.0
        self.heating_wh += heat_j / 3600.0

    def _heat(self, dt: float, gains: float, loss: float, t_out: float, setpoint: float) -> float:
        """Integrate C·dT/dt = P_heat(T) + gains − loss·(T − T_out) exactly; return heat in J.

        P_heat is proportional below the set-point and saturates at full power, so the right side
        is continuous, piecewise linear and decreasing in T: the trajectory is monotone and crosses
        at most two regime boundaries, each found in closed form.
        """
        p = self.params
        gain = p.heater_power / HEATER_BAND_K
        full_below = setpoint - HEATER_BAND_K
        heat = 0.0
        left = dt
        while left > 0:
            t0 = self.temperature
            power = min(p.heater_power, max(0.0, gain * (setpoint - t0)))
            drift = power + gains - loss * (t0 - t_out)
            if drift == 0:
                heat += power * left
                break
            warming = drift > 0
            if t0 < full_below or (t0 == full_below and not warming):
                k, offset, lo, hi = loss, p.heater_power, -math.inf, full_below
            elif t0 > setpoint or (t0 == setpoint and warming):
                k, offset, lo, hi = loss, 0.0, setpoint, math.inf
            else:
                k, offset, lo, hi = loss + gain, gain * setpoint, full_below, setpoint
            eq = (offset + gains + loss * t_out) / k
            rate = k / p.thermal_capacity
            span = left
            boundary = hi if eq > hi else lo if eq < lo else None
            if boundary is not None:
                span = min(left, math.log((t0 - eq) / (boundary - eq)) / rate)
            t1 = boundary if boundary is not None and span < left else relax(t0, eq, rate, span)
            x = rate * span
            mean = eq + (t0 - eq) * ((1.0 - math.exp(-x)) / x if x > 1e-12 else 1.0)
            heat += (offset - (k - loss) * mean) * span
            self.temperature = t1
            left -= max(span, 1e-9)
        return heat
