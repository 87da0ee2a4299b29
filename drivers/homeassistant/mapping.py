"""What Home Assistant states mean as campus values, and which service call sets an actuator.

Pure functions of an entity's state object (``{"entity_id", "state", "attributes", ...}`` as the
websocket API sends it), so every domain's mapping is tested without a server. docs/
homeassistant.md is the user-facing table of the same mapping.

Decoding never raises: a state that cannot be used yields `Unusable` with the reason, and the
driver turns it into an unknown point (quality UNAVAILABLE) and logs the reason once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from campus.model import ActuatorSpec, ActuatorType, HaBinding, PointSpec, ValueType
from campus.problems import DriverError
from campus.types import Value

UNAVAILABLE_STATES = frozenset({"unavailable", "unknown"})
"""What Home Assistant reports for an entity it cannot read: the point becomes unknown."""

_TRUE = frozenset({"on", "true", "open", "home", "detected"})
_FALSE = frozenset({"off", "false", "closed", "not_home", "clear"})

_UNIT_ALIASES = {"lux": "lx", "ug/m3": "µg/m³", "μg/m³": "µg/m³", "degc": "°C", "degf": "°F"}
_CONVERSIONS: dict[tuple[str, str], Callable[[float], float]] = {
    ("°F", "°C"): lambda v: (v - 32.0) * 5.0 / 9.0,
    ("K", "°C"): lambda v: v - 273.15,
    ("°C", "°F"): lambda v: v * 9.0 / 5.0 + 32.0,
    ("°C", "K"): lambda v: v + 273.15,
}


@dataclass(frozen=True, slots=True)
class Unusable:
    """A state that gives no value; `reason` is None for HA's own unavailable/unknown."""

    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """One Home Assistant service call on one entity."""

    domain: str
    service: str
    data: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.domain}.{self.service}"


Decoded = Value | Unusable | None
"""A value, an `Unusable` state, or None when the state says nothing (a cover still moving)."""


def decode_point(spec: PointSpec, binding: HaBinding, state: Mapping[str, Any]) -> Decoded:
    """The point's value from the entity's state (or the bound attribute), in the point's unit."""
    raw_state = state.get("state")
    if raw_state in UNAVAILABLE_STATES:
        return Unusable()
    attributes: Mapping[str, Any] = state.get("attributes") or {}
    if binding.attribute is not None:
        if attributes.get(binding.attribute) is None:
            return Unusable(f"has no attribute {binding.attribute!r} (or it is empty)")
        raw = attributes[binding.attribute]
    else:
        raw = raw_state
    if spec.type is ValueType.BOOL:
        return _boolean(raw)
    number = _number(raw)
    if isinstance(number, Unusable):
        return number
    if binding.attribute is None:
        converted = _convert(number, attributes.get("unit_of_measurement"), spec.unit)
        if isinstance(converted, Unusable):
            return converted
        number = converted
    return 100.0 - number if binding.invert else number


def decode_actuator(spec: ActuatorSpec, binding: HaBinding, state: Mapping[str, Any]) -> Decoded:
    """The state the device reports, as the actuator's value (% for levels, °C for climate)."""
    raw_state = state.get("state")
    if raw_state in UNAVAILABLE_STATES:
        return Unusable()
    attributes: Mapping[str, Any] = state.get("attributes") or {}
    domain = binding.domain
    if spec.type is ActuatorType.SWITCH:
        if domain == "cover":
            return {"open": True, "closed": False}.get(str(raw_state))
        if domain == "climate":
            return raw_state != "off"
        return _boolean(raw_state)
    value: Decoded
    if domain == "light":
        brightness = attributes.get("brightness")
        if raw_state == "off":
            value = 0.0
        elif brightness is None:
            value = 100.0
        else:
            value = _number(brightness)
            value = value if isinstance(value, Unusable) else round(value * 100.0 / 255.0, 1)
    elif domain == "fan":
        percentage = attributes.get("percentage")
        value = 0.0 if raw_state == "off" else _number(100 if percentage is None else percentage)
    elif domain == "cover":
        position = attributes.get("current_position")
        if position is None:
            return {"open": 100.0, "closed": 0.0}.get(str(raw_state))
        value = _number(position)
    elif domain == "climate":
        target = attributes.get("temperature")
        value = Unusable("has no target temperature") if target is None else _number(target)
    else:
        value = _number(raw_state)
    if binding.invert and isinstance(value, float):
        return 100.0 - value
    return value


def encode_command(spec: ActuatorSpec, binding: HaBinding, value: Value) -> ServiceCall:
    """The service call that sets the actuator to `value`; DriverError if it cannot."""
    domain = binding.domain
    if spec.type is ActuatorType.SWITCH:
        if not isinstance(value, bool):
            raise DriverError(f"{spec.id} is a switch: it takes on or off, not {value!r}")
        if domain == "cover":
            return ServiceCall(domain, "open_cover" if value else "close_cover")
        if domain in ("light", "switch", "input_boolean", "fan", "climate"):
            return ServiceCall(domain, "turn_on" if value else "turn_off")
        raise DriverError(f"{spec.id}: a {domain} entity cannot be a switch")
    if isinstance(value, bool) or not math.isfinite(value):
        raise DriverError(f"{spec.id} is a level: it takes a number, not {value!r}")
    level = 100.0 - value if binding.invert else float(value)
    if domain == "light":
        if level <= 0:
            return ServiceCall(domain, "turn_off")
        return ServiceCall(domain, "turn_on", {"brightness_pct": min(level, 100.0)})
    if domain == "fan":
        return ServiceCall(domain, "set_percentage", {"percentage": _percent(level)})
    if domain == "cover":
        return ServiceCall(domain, "set_cover_position", {"position": _percent(level)})
    if domain == "climate":
        return ServiceCall(domain, "set_temperature", {"temperature": level})
    if domain == "input_number":
        return ServiceCall(domain, "set_value", {"value": level})
    raise DriverError(f"{spec.id}: a {domain} entity cannot be a level")


def _percent(level: float) -> int:
    """Fans and covers take whole percents from 0 to 100."""
    return max(0, min(100, round(level)))


def _boolean(raw: object) -> bool | Unusable:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return Unusable(f"state {raw!r} is not on/off")


def _number(raw: object) -> float | Unusable:
    if isinstance(raw, bool):
        return Unusable(f"state {raw!r} is not a number")
    try:
        number = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return Unusable(f"state {raw!r} is not a number")
    if not math.isfinite(number):
        return Unusable(f"state {raw!r} is not a finite number")
    return number


def _unit(text: object) -> str:
    unit = str(text or "").strip()
    return _UNIT_ALIASES.get(unit.lower(), unit)


def _convert(value: float, ha_unit: object, wanted: str) -> float | Unusable:
    """`value` in HA's unit -> the point's unit; Unusable when the units cannot be matched."""
    have, want = _unit(ha_unit), _unit(wanted)
    if not want or not have or have == want:
        return value
    convert = _CONVERSIONS.get((have, want))
    if convert is None:
        return Unusable(
            f"is in {have!r} but the point is in {want!r}: fix the point's unit in campus.yaml "
            "or the entity's unit in Home Assistant"
        )
    return convert(value)
