"""Payload codec, contract version 1: Zigbee2MQTT 2.x JSON and plain values, both directions.

Pure functions, no I/O and no state, so they are tested with real payload samples alone and the
simulators can rely on exactly the contract written in PAYLOADS.md beside this file.

A `Target` is one value a topic carries: a point (``b1.r101.co2``) or the reported state of an
actuator (``b1.r101.lights``). It is built once per binding, so the hot path only looks keys up.

Type decisions (documented in PAYLOADS.md):

- Z2M numbers must be JSON numbers (``"412"`` is wrong_type): Z2M 2.x never quotes numbers, so a
  string means a misbound key or a broken device. NaN and infinities are wrong_type.
- Z2M bools accept JSON ``true``/``false``, the strings ``ON``/``OFF``/``true``/``false`` (any case,
  Z2M's ``state`` is a string) and the numbers ``0``/``1`` (some Tuya converters); anything else,
  such as ``3`` or ``"abc"``, is wrong_type.
- A key that is absent or ``null`` is "no news" for its point, never an error: Z2M sends partial
  updates and ``null`` for attributes it has not read yet.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from campus.model import ActuatorSpec, ActuatorType, PayloadFormat, PointSpec, ValueType
from campus.problems import DriverError
from campus.types import Quality, Reading, Value
from drivers.mqtt.errors import Fault, PayloadError

NUMBER = ValueType.NUMBER
BOOL = ValueType.BOOL

CONTRACT_VERSION = 1

_TRUE_WORDS = frozenset({"on", "true", "1"})
_FALSE_WORDS = frozenset({"off", "false", "0"})
_AVAILABILITY = {"online": True, "offline": False}
INT_LIMIT = 2**1023
"""JSON integers at or beyond this are wrong_type: a float cannot hold them."""


@dataclass(frozen=True, slots=True)
class Target:
    """One value carried by a state topic, and how to read it."""

    id: str
    """The point id, or the actuator id for an actuator's reported state."""
    topic: str
    format: PayloadFormat
    key: str
    """The JSON key (Z2M); empty for plain payloads."""
    type: ValueType
    range: tuple[float, float] | None = None
    """Plausible range (points only: an actuator reports what it does, plausible or not)."""
    scale: float | None = None
    invert: bool = False
    actuator: bool = False


def point_target(spec: PointSpec) -> Target:
    """The target of a point; raises DriverError when its binding cannot be read."""
    binding = spec.mqtt
    if binding is None:
        raise DriverError(f"point {spec.id} has no MQTT binding")
    if binding.format is PayloadFormat.Z2M and not binding.key:
        raise DriverError(f"point {spec.id}: a z2m binding needs the JSON key to read")
    return Target(
        id=spec.id,
        topic=binding.topic,
        format=binding.format,
        key=(binding.key or "") if binding.format is PayloadFormat.Z2M else "",
        type=spec.type,
        range=spec.range,
    )


def actuator_target(spec: ActuatorSpec) -> Target:
    """The target of an actuator's reported state; raises DriverError for unusable bindings."""
    binding = spec.mqtt
    if binding is None:
        raise DriverError(f"actuator {spec.id} has no MQTT binding")
    if binding.scale is not None and binding.scale <= 0:
        raise DriverError(f"actuator {spec.id}: scale must be positive, got {binding.scale}")
    key = ""
    if binding.format is PayloadFormat.Z2M:
        if spec.type is ActuatorType.SWITCH:
            key = binding.key or "state"
        elif binding.key:
            key = binding.key
        else:
            raise DriverError(
                f"actuator {spec.id}: a z2m level binding needs the JSON key to set "
                "(brightness, percentage, position, occupied_heating_setpoint...)"
            )
    switch = spec.type is ActuatorType.SWITCH
    return Target(
        id=spec.id,
        topic=binding.topic,
        format=binding.format,
        key=key,
        type=ValueType.BOOL if switch else ValueType.NUMBER,
        scale=None if switch else binding.scale,
        invert=False if switch else binding.invert,
        actuator=True,
    )


@dataclass(slots=True)
class Decoded:
    """What one state message said about each target of its topic."""

    values: list[tuple[Target, Value]] = field(default_factory=list)
    errors: list[PayloadError] = field(default_factory=list)
    missing: list[Target] = field(default_factory=list)
    """Targets whose key was absent or null: no news for them."""
    parsed: bool = True
    """False when the whole message was unusable (not JSON, not an object)."""


def decode_state(topic: str, payload: bytes, targets: list[Target]) -> Decoded:
    """Decode one message for all `targets` of its topic, parsing the payload once.

    All targets of one topic share one format (the route table ensures it).
    """
    out = Decoded()
    if not targets:
        return out
    if targets[0].format is PayloadFormat.PLAIN:
        for target in targets:
            try:
                out.values.append((target, decode_plain(target, payload)))
            except PayloadError as exc:
                out.errors.append(exc)
        return out
    try:
        obj = parse_object(topic, payload)
    except PayloadError as exc:
        out.errors.append(exc)
        out.parsed = False
        return out
    values = out.values
    for target in targets:
        raw = obj.get(target.key)
        kind = type(raw)
        if not target.actuator:  # a sensor's usual value, checked as `value_in` checks it
            if kind is float or kind is int:
                if target.type is NUMBER and -INT_LIMIT < raw < INT_LIMIT:  # type: ignore[operator]
                    plausible = target.range
                    if plausible is None or plausible[0] <= raw <= plausible[1]:  # type: ignore[operator]
                        values.append((target, float(raw)))  # type: ignore[arg-type]
                        continue
            elif kind is bool and target.type is BOOL:
                values.append((target, raw))  # type: ignore[arg-type]
                continue
        try:
            value = value_in(target, obj, payload)
        except PayloadError as exc:
            out.errors.append(exc)
            continue
        if value is None:
            out.missing.append(target)
        else:
            values.append((target, value))
    return out


SensorKey = tuple[str, str, bool, float, float]
"""(point id, JSON key, whether a number, lowest and highest plausible value)."""


def sensor_readings(
    sensors: tuple[SensorKey, ...], payload: bytes, now: float
) -> list[Reading] | None:
    """A multisensor's usual message read at once: the readings of `sensors` (a topic's points:
    `routes.Route.sensors`) when the payload is a JSON object with every key present and each
    value a number in its range or a boolean as its point expects; None for anything else,
    which `decode_state` then reads and explains. The same readings `decode_state` gives, with
    no intermediate results: this is every reading's path on a busy campus."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict:
        return None
    message = []
    for point_id, key, number, low, high in sensors:
        raw: Any = obj.get(key)
        kind = type(raw)
        if number:
            if (kind is float or kind is int) and low <= raw <= high:
                message.append(_reading(Reading, (point_id, float(raw), now, GOOD)))
                continue
        elif kind is bool:
            message.append(_reading(Reading, (point_id, raw, now, GOOD)))
            continue
        return None
    return message


_reading = tuple.__new__
"""A `Reading` made from its four fields without the named tuple's own `__new__`, a Python
function that costs as much again (220 vs 124 ns): five a message on the busiest path."""
GOOD = Quality.GOOD


def decode(spec: PointSpec | ActuatorSpec, payload: bytes) -> Value | None:
    """The value one payload gives one point or actuator; None when it carries no news for it.

    Raises PayloadError for a bad payload. The driver uses `decode_state` instead, which parses a
    shared multisensor message once for all its points.
    """
    target = point_target(spec) if isinstance(spec, PointSpec) else actuator_target(spec)
    if target.format is PayloadFormat.PLAIN:
        return decode_plain(target, payload)
    return value_in(target, parse_object(target.topic, payload), payload)


def loads(payload: bytes) -> Any:
    """JSON as the standard library reads it, at orjson's speed: parsing is the largest single
    cost of decoding a multisensor message (bench/README.md, "Earlier figures, from the code's
    docstrings").

    orjson refuses what the standard library accepts (NaN, Infinity, integers beyond 64 bits):
    such a payload is read again by `json.loads`, so the contract in PAYLOADS.md holds as is.
    """
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


def parse_object(topic: str, payload: bytes) -> dict[str, object]:
    """A Z2M message as a JSON object, or PayloadError (not_json / not_object)."""
    try:
        obj = loads(payload)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(topic, payload, Fault.NOT_JSON, f"not JSON ({exc})") from exc
    if not isinstance(obj, dict):
        kind = type(obj).__name__
        raise PayloadError(topic, payload, Fault.NOT_OBJECT, f"expected a JSON object, got {kind}")
    return obj


def value_in(target: Target, obj: dict[str, object], payload: bytes) -> Value | None:
    """The target's value in a parsed Z2M object; None when the key is absent or null."""
    raw = obj.get(target.key)
    if target.actuator and target.type is ValueType.NUMBER and _is_off(obj.get("state")):
        return 0.0  # a dimmed-off light or stopped fan remembers its level; it delivers none
    if raw is None:
        return None
    if target.type is ValueType.BOOL:
        flag = _json_bool(raw)
        if flag is None:
            raise _wrong(target, payload, f"expected true/false or ON/OFF, got {_short(raw)}")
        return flag
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not _finite(raw):
        raise _wrong(target, payload, f"expected a number, got {_short(raw)}")
    return _from_raw(target, float(raw), payload)


def decode_plain(target: Target, payload: bytes) -> Value:
    """A plain payload (``412``, ``21.5``, ``true``, ``ON``, ``1``) as the target's value."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise _wrong(target, payload, "not UTF-8 text") from exc
    if target.type is ValueType.BOOL:
        word = text.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise _wrong(target, payload, f"expected true/false, ON/OFF or 1/0, got {text[:40]!r}")
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise _wrong(target, payload, f"expected a number, got {text[:40]!r}")
    return _from_raw(target, number, payload)


def decode_availability(topic: str, payload: bytes) -> bool:
    """True for online, False for offline: ``{"state":"online"}`` or legacy plain ``online``."""
    text = payload.strip().lower()
    if text.startswith(b"{"):
        try:
            obj = json.loads(payload)
        except (ValueError, RecursionError):
            obj = None
        state = obj.get("state") if isinstance(obj, dict) else None
        word = state.lower() if isinstance(state, str) else ""
    else:
        word = text.decode("utf-8", "replace")
    if word not in _AVAILABILITY:
        raise PayloadError(
            topic, payload, Fault.BAD_AVAILABILITY, 'expected {"state":"online"|"offline"}'
        )
    return _AVAILABILITY[word]


def encode_command(
    spec: ActuatorSpec, value: Value, target: Target | None = None
) -> tuple[str, bytes]:
    """The topic and payload that set an actuator to `value`; `target`: the actuator's
    `actuator_target` if the caller keeps it (the driver's route table), else made here.

    Z2M: a JSON object to ``<topic>/set``, ``{"state":"ON"}`` for a switch and ``{"<key>": raw}``
    for a level, where raw is the value, ``100 - value`` when inverted, scaled by scale/100 and
    rounded half up when a scale is set (Z2M brightness 0..254). Plain: ``ON``/``OFF`` or the
    number itself. Raises DriverError for a value the actuator does not accept.
    """
    if target is None:
        target = actuator_target(spec)
    binding = spec.mqtt
    assert binding is not None  # actuator_target refused a missing binding
    if not spec.accepts(value):
        raise DriverError(
            f"actuator {spec.id} ({spec.type}, range {spec.range[0]:g}..{spec.range[1]:g}) "
            f"cannot take {value!r}"
        )
    raw: bool | int | float | str
    if spec.type is ActuatorType.SWITCH:
        raw = "ON" if value else "OFF"
    else:
        raw = _level_to_raw(target, float(value))
    if target.format is PayloadFormat.PLAIN:
        return binding.set_topic, raw.encode() if isinstance(raw, str) else orjson.dumps(raw)
    return binding.set_topic, orjson.dumps({target.key: raw})


def _level_to_raw(target: Target, value: float) -> int | float:
    raw = 100.0 - value if target.invert else value
    if target.scale is not None:
        return math.floor(raw * target.scale / 100.0 + 0.5)
    raw = round(raw, 6)
    return int(raw) if raw.is_integer() else raw


def _from_raw(target: Target, number: float, payload: bytes) -> float:
    """A point's number checked for plausibility, or an actuator's raw level mapped back."""
    if target.actuator:
        value = number * 100.0 / target.scale if target.scale is not None else number
        return 100.0 - value if target.invert else value
    if target.range is not None and not target.range[0] <= number <= target.range[1]:
        low, high = target.range
        raise PayloadError(
            target.topic,
            payload,
            Fault.IMPLAUSIBLE,
            f"{target.id} = {number:g} is outside the plausible range {low:g}..{high:g}",
            target.id,
        )
    return number


def _finite(raw: int | float) -> bool:
    """A finite number a float can hold (a JSON integer can have hundreds of digits)."""
    return -INT_LIMIT < raw < INT_LIMIT if isinstance(raw, int) else math.isfinite(raw)


def _json_bool(raw: object) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        return None
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    return None


def _is_off(state: object) -> bool:
    return isinstance(state, str) and state.upper() == "OFF"


def _short(raw: object) -> str:
    text = json.dumps(raw)
    return text if len(text) <= 40 else text[:40] + "..."


def _wrong(target: Target, payload: bytes, detail: str) -> PayloadError:
    where = f"{target.key} for {target.id}" if target.key else target.id
    return PayloadError(target.topic, payload, Fault.WRONG_TYPE, f"{where}: {detail}", target.id)
